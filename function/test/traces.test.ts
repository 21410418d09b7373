import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import t from 'tap';
import { startApp } from './helpers/app.js';
import { baseEnv, startServer } from './helpers/process.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

t.test('a caller traceparent makes the SERVER span its child; traceresponse gives the trace back', async (t) => {
  const { url, spans, logs } = await startApp(t, { env: { K_SERVICE: 'greeter', K_REVISION: 'greeter-00001' } });
  const res = await fetch(`${url}/?name=Ann`, {
    headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'vendor=opaque', 'user-agent': 'curl/8' },
  });
  t.equal(res.status, 200);
  const tr = res.headers.get('traceresponse');
  t.match(tr, new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`), 'same trace id, the server span id, sampled');

  const server = spans().filter((s) => s.kind === SpanKind.SERVER);
  t.equal(server.length, 1, 'one SERVER span per request');
  const span = server[0]!;
  t.equal(span.name, 'GET /');
  t.equal(span.spanContext().traceId, TRACE);
  t.equal(span.parentSpanContext?.spanId, PARENT, 'child of the caller span');
  t.equal(tr?.split('-')[2], span.spanContext().spanId);
  t.equal(span.spanContext().traceState?.get('vendor'), 'opaque', 'tracestate is kept');
  t.match(span.attributes, {
    'http.request.method': 'GET',
    'url.path': '/',
    'url.scheme': 'http',
    'url.query': 'name=Ann',
    'http.route': '/',
    'http.response.status_code': 200,
    'server.address': '127.0.0.1',
    'user_agent.original': 'curl/8',
    'client.address': '127.0.0.1',
  });
  t.notOk('http.method' in span.attributes, 'only the stable semantic conventions');
  t.notOk('error.type' in span.attributes, 'no error.type on success');
  t.equal(span.status.code, SpanStatusCode.UNSET);

  const line = logs().find((l) => l.msg === 'request completed');
  t.equal(line?.trace_id, TRACE, 'the request log line carries the trace id');
  t.equal(line?.span_id, span.spanContext().spanId, 'and the span id');
  t.equal(line?.route, '/');
});

t.test('without a traceparent a new trace starts; the root is sampled by default', async (t) => {
  const { url, spans } = await startApp(t);
  const res = await fetch(url);
  const tr = res.headers.get('traceresponse') ?? '';
  t.match(tr, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  t.equal(spans()[0]?.spanContext().traceId, tr.split('-')[1]);
  t.equal(spans()[0]?.parentSpanContext, undefined);
});

t.test('an invalid traceparent is ignored', async (t) => {
  const { url, spans } = await startApp(t);
  await fetch(url, { headers: { traceparent: `00-${'0'.repeat(32)}-${PARENT}-01` } });
  t.not(spans()[0]?.spanContext().traceId, '0'.repeat(32));
  t.equal(spans()[0]?.parentSpanContext, undefined);
});

t.test('the route template names the span, never the raw path; 404s and 5xx', async (t) => {
  const { url, spans } = await startApp(t, {
    fn: {
      routes: async (app) => {
        app.get('/items/:id', { schema: { params: { type: 'object', properties: { id: { type: 'string' } } } } }, async (request) => {
          const active = trace.getActiveSpan();
          return { same: active?.spanContext().spanId === request.span?.spanContext().spanId };
        });
        app.post('/boom', async () => {
          throw new TypeError('no');
        });
      },
    },
  });
  const body = await (await fetch(`${url}/items/123`)).json();
  t.same(body, { same: true }, 'the request span is active in the handler');
  await fetch(`${url}/nowhere/at/all`);
  await fetch(`${url}/boom`, { method: 'POST' });
  const [item, missing, boom] = spans();
  t.equal(item?.name, 'GET /items/:id');
  t.equal(item?.attributes['http.route'], '/items/:id');
  t.equal(item?.attributes['url.path'], '/items/123');
  t.equal(missing?.name, 'GET', 'no route: the method alone');
  t.notOk(missing && 'http.route' in missing.attributes);
  t.equal(missing?.attributes['http.response.status_code'], 404);
  t.equal(missing?.status.code, SpanStatusCode.UNSET, '4xx leaves the SERVER span status unset');
  t.equal(boom?.name, 'POST /boom');
  t.equal(boom?.attributes['error.type'], 'TypeError');
  t.equal(boom?.status.code, SpanStatusCode.ERROR);
});

t.test('health probes are not traced and not logged', async (t) => {
  const { url, spans, logs } = await startApp(t);
  t.equal((await fetch(`${url}/healthz`)).status, 200);
  t.equal((await fetch(`${url}/readyz`)).status, 200);
  t.equal(spans().length, 0);
  t.equal(logs().filter((l) => l.msg === 'request completed').length, 0);
});

t.test('sensitive query values never reach a span', async (t) => {
  const { url, spans } = await startApp(t);
  await fetch(`${url}/?name=x&X-Amz-Signature=abc123&token=s3cr3t`);
  t.equal(spans()[0]?.attributes['url.query'], 'name=x&X-Amz-Signature=REDACTED&token=REDACTED');
});

t.test('the first request is marked as the cold start and carries Server-Timing', async (t) => {
  const { url, spans, startup } = await startApp(t);
  startup.mark('config');
  const first = await fetch(url);
  const second = await fetch(url);
  t.equal(((await first.json()) as { firstRequest: boolean }).firstRequest, true);
  t.equal(((await second.json()) as { firstRequest: boolean }).firstRequest, false);
  t.match(first.headers.get('server-timing'), /^config;dur=\d+\.\d, telemetry;dur=\d+\.\d, listen;dur=\d+\.\d, first_response;dur=\d+\.\d, total;dur=\d+\.\d$/);
  t.equal(second.headers.get('server-timing'), null, 'only the first response');
  t.equal(spans()[0]?.attributes['function.cold_start'], true);
  t.notOk(spans()[1] && 'function.cold_start' in spans()[1]!.attributes);
});

for (const off of [{ OTEL_TRACES_EXPORTER: 'none' }, { OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }] as Record<string, string>[]) {
  t.test(`tracing off (${Object.entries(off).map(([k, v]) => `${k}=${v}`).join(' ')}): every response still names this hop in traceresponse`, async (t) => {
    const server = await startServer(baseEnv(off));
    t.teardown(() => server.stop());
    const headers = [];
    for (const init of [{}, {}, { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } }, { headers: { traceparent: `00-${TRACE}-${PARENT}-00` } }]) {
      const res = await fetch(`${server.url}/`, init);
      t.equal(res.status, 200);
      headers.push(res.headers.get('traceresponse') ?? '');
    }
    const missing = await fetch(`${server.url}/nowhere`, { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } });
    t.equal(missing.status, 404);
    headers.push(missing.headers.get('traceresponse') ?? '');
    const parsed = headers.map((h) => /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(h));
    t.ok(parsed.every(Boolean), `a traceresponse on every response: ${headers.join(' | ')}`);
    const [a, b, c, d, e] = parsed.map((m) => ({ trace: m?.[1], span: m?.[2], flags: m?.[3] }));
    t.not(a?.trace, b?.trace, 'without traceparent: a new trace per request');
    for (const x of [c, d, e]) {
      t.equal(x?.trace, TRACE, "with traceparent: the caller's trace");
      t.not(x?.span, PARENT, "and this hop's own span id, not the caller's");
    }
    t.ok(new Set(parsed.map((m) => m?.[2])).size === 5, 'a fresh span id per request');
    t.ok(parsed.every((m) => m?.[3] === '00'), 'flags 00: nothing was recorded');
    // The access lines carry the same ids as the header.
    await new Promise((r) => setTimeout(r, 100));
    const lines = server
      .output()
      .split('\n')
      .filter((l) => l.includes('"request completed"'))
      .map((l) => JSON.parse(l) as { trace_id?: string; span_id?: string });
    t.same(
      lines.map((l) => `${l.trace_id}-${l.span_id}`),
      parsed.map((m) => `${m?.[1]}-${m?.[2]}`),
      'the log lines name the same trace and span',
    );
  });
}
