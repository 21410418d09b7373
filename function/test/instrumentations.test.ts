/**
 * The OpenTelemetry instrumentations every function gets, and the SDK's metrics and logs exporters that must stay off:
 * - built layout (dist/server.js, as the image runs it) against moto and an OTLP receiver: the start-up
 *   GetSecretValue call is a CLIENT span under the start-up span (the AWS SDK's instrumentation, inside the bundle),
 *   its HTTP request one under that (the HTTP client's), and nothing goes to /v1/metrics or /v1/logs unless asked;
 * - in process: a route's fetch() is a CLIENT span under the request's SERVER span and carries its traceparent.
 */
import { logs, SpanKind } from '@opentelemetry/api';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { AlwaysOffSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import t from 'tap';
import { startApp } from './helpers/app.js';
import { startMoto } from './helpers/moto.js';
import { startReceiver } from './helpers/otlp.js';
import { baseEnv, startServer } from './helpers/process.js';

const CLIENT = 3; // OTLP's SPAN_KIND_CLIENT

t.test('built layout: GetSecretValue at start-up is a client span under secrets.load; no metrics or logs exported', async (t) => {
  const moto = await startMoto(t);
  await moto.createSecret('fn/instrumented', JSON.stringify({ SIGNING_KEY: 'k' }));
  const receiver = await startReceiver(t);
  const server = await startServer(
    baseEnv({
      ...moto.env,
      SECRETS: 'fn/instrumented',
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '50',
      // Were the SDK's metrics or logs on, they would export this often.
      OTEL_METRIC_EXPORT_INTERVAL: '100',
      OTEL_BLRP_SCHEDULE_DELAY: '50',
    }),
  );
  t.teardown(() => server.stop());
  t.equal((await fetch(server.url)).status, 200);

  const spans = await receiver.waitFor((s) => s.some((x) => x.name === 'secrets.load') && s.some((x) => x.kind === 2));
  const startup = spans.find((s) => s.name === 'secrets.load')!;
  const call = spans.find((s) => s.name === 'SecretsManager.GetSecretValue');
  t.ok(call, `a GetSecretValue span: ${JSON.stringify(spans.map((s) => s.name))}`);
  t.equal(call?.kind, CLIENT, 'kind CLIENT');
  t.equal(call?.traceId, startup.traceId, 'in the start-up trace');
  t.equal(call?.parentSpanId, startup.spanId, 'child of secrets.load');
  t.match(call?.attributes, { 'rpc.system': 'aws-api', 'rpc.service': 'SecretsManager', 'rpc.method': 'GetSecretValue' });
  const http = spans.find((s) => s.parentSpanId === call?.spanId);
  t.equal(http?.kind, CLIENT, "the SDK's HTTP request is a client span under it (the HTTP client's instrumentation)");
  t.equal(http?.attributes['http.request.method'], 'POST', 'stable HTTP semantic conventions');
  t.notOk(JSON.stringify(spans).includes('"k"'), 'no secret value in any span');

  const serverSpans = spans.filter((s) => s.kind === 2);
  t.equal(serverSpans.length, 1, 'one SERVER span for the one request: the incoming side is not instrumented twice');

  await new Promise((r) => setTimeout(r, 500));
  t.same([...new Set(receiver.paths())], ['/v1/traces'], 'only traces are exported: no /v1/metrics, no /v1/logs');
});

t.test('built layout: a background refresh is its own secrets.refresh trace, its GetSecretValue call a child', async (t) => {
  const moto = await startMoto(t);
  await moto.createSecret('fn/refreshed', JSON.stringify({ FIXTURE_KEY: 'k' }));
  const receiver = await startReceiver(t);
  const server = await startServer(
    baseEnv({
      ...moto.env,
      SECRETS: 'fn/refreshed',
      SECRETS_REFRESH_SECONDS: '1',
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '50',
    }),
  );
  t.teardown(() => server.stop());
  const spans = await receiver.waitFor((s) => {
    const refresh = s.find((x) => x.name === 'secrets.refresh');
    return refresh !== undefined && s.some((x) => x.parentSpanId === refresh.spanId);
  });
  const load = spans.find((s) => s.name === 'secrets.load')!;
  const refresh = spans.find((s) => s.name === 'secrets.refresh')!;
  t.notOk(refresh.parentSpanId, 'a root span');
  t.not(refresh.traceId, load.traceId, 'in a trace of its own, not the start-up trace');
  const call = spans.find((s) => s.parentSpanId === refresh.spanId);
  t.equal(call?.name, 'SecretsManager.GetSecretValue', 'the refresh call is its child');
  const orphans = spans.filter((s) => s.name === 'SecretsManager.GetSecretValue' && !s.parentSpanId);
  t.equal(orphans.length, 0, 'no GetSecretValue call is a root trace of its own');
});

t.test('built layout: OTEL_METRICS_EXPORTER=otlp turns the SDK meter provider on (the SDK reads the variable)', async (t) => {
  // The instrumentations record http.client.request.duration for the start-up call to Secrets Manager.
  const moto = await startMoto(t);
  await moto.createSecret('fn/metered', JSON.stringify({ SIGNING_KEY: 'k' }));
  const receiver = await startReceiver(t);
  const server = await startServer(
    baseEnv({
      ...moto.env,
      SECRETS: 'fn/metered',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_METRIC_EXPORT_INTERVAL: '100',
    }),
  );
  t.teardown(() => server.stop());
  const deadline = Date.now() + 5_000;
  while (!receiver.paths().includes('/v1/metrics') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.ok(receiver.paths().includes('/v1/metrics'), 'metrics exported when asked for');
  t.notOk(receiver.paths().includes('/v1/traces'), 'and traces stay off as asked');
});

t.test("in process: a route's fetch() is a client span under the SERVER span and sends its traceparent", async (t) => {
  const seen: IncomingHttpHeaders[] = [];
  const target = createServer((req, res) => {
    seen.push(req.headers);
    res.end('{}');
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => target.close(() => r())));
  const targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}/downstream`;

  const { url, spans } = await startApp(t, {
    defaultInstrumentations: true,
    fn: {
      routes: async (app) => {
        app.get('/call', async () => ({ status: (await fetch(targetUrl)).status }));
      },
    },
  });
  const res = await fetch(`${url}/call`);
  t.equal(res.status, 200);
  const tr = res.headers.get('traceresponse') ?? '';
  const serverSpan = spans().find((s) => s.kind === SpanKind.SERVER && s.name === 'GET /call');
  t.ok(serverSpan);
  const client = spans().find((s) => s.kind === SpanKind.CLIENT && s.parentSpanContext?.spanId === serverSpan?.spanContext().spanId);
  t.ok(client, 'a CLIENT span under the SERVER span');
  t.equal(client?.attributes['http.request.method'], 'GET');
  t.equal(client?.attributes['url.full'], targetUrl);
  const traceparent = String(seen[0]?.traceparent ?? '');
  t.equal(traceparent.split('-')[1], tr.split('-')[1], "the downstream call carries the request's trace id");
  t.equal(traceparent.split('-')[2], client?.spanContext().spanId, 'with the client span as its parent');
});

/** An instrumentation whose spans go nowhere until the runtime registers it with the SDK's tracer provider. */
function detached<T extends { setTracerProvider(p: TracerProvider): void }>(instrumentation: T): T {
  instrumentation.setTracerProvider(new TracerProvider({ sampler: new AlwaysOffSampler() }));
  return instrumentation;
}

for (const withIt of [false, true]) {
  t.test(`the function's own \`instrumentations\` export is registered (${withIt ? 'exported' : 'not exported'})`, async (t) => {
    const target = createServer((_req, res) => res.end('{}'));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise<void>((r) => target.close(() => r())));
    const targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}/`;
    const { url, spans } = await startApp(t, {
      fn: {
        routes: async (app) => {
          app.get('/call', async () => ({ status: (await fetch(targetUrl)).status }));
        },
        instrumentations: withIt ? [detached(new UndiciInstrumentation())] : [],
      },
    });
    await fetch(`${url}/call`);
    const clients = spans().filter((s) => s.kind === SpanKind.CLIENT && s.attributes['url.full'] === targetUrl);
    t.equal(clients.length, withIt ? 1 : 0, withIt ? 'its client span is recorded' : 'no client span (defaults off here)');
  });
}

for (const asked of [false, true]) {
  t.test(`the SDK's logs exporter ${asked ? 'runs when OTEL_LOGS_EXPORTER=otlp' : 'stays off unless OTEL_LOGS_EXPORTER is set'}`, async (t) => {
    const receiver = await startReceiver(t);
    const env: Record<string, string> = {
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BLRP_SCHEDULE_DELAY: '50',
      ...(asked ? { OTEL_LOGS_EXPORTER: 'otlp' } : {}),
    };
    // NodeSDK reads process.env.
    const saved = { ...process.env };
    Object.assign(process.env, env);
    t.teardown(() => {
      for (const key of Object.keys(env)) if (!(key in saved)) delete process.env[key];
    });
    await startApp(t);
    // A library logging through the OpenTelemetry logs API, as some instrumentations do.
    logs.getLogger('a-library').emit({ body: 'hello' });
    await new Promise((r) => setTimeout(r, 500));
    t.equal(receiver.paths().includes('/v1/logs'), asked, asked ? 'the record is exported' : 'nothing is exported');
  });
}

t.test('built layout: OTEL_EXPORTER_OTLP_PROTOCOL=grpc exports the spans over gRPC', async (t) => {
  const grpc = await import('@grpc/grpc-js');
  const received: Buffer[] = [];
  const server = new grpc.Server();
  const raw = (b: Buffer) => b;
  server.addService(
    {
      Export: {
        path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
        requestStream: false,
        responseStream: false,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
    },
    {
      Export: (call: { request: Buffer }, done: (err: null, response: Buffer) => void) => {
        received.push(call.request);
        done(null, Buffer.alloc(0)); // an empty ExportTraceServiceResponse
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  t.teardown(() => server.forceShutdown());
  const fn = await startServer(
    baseEnv({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_BSP_SCHEDULE_DELAY: '50',
    }),
  );
  t.teardown(() => fn.stop());
  t.equal((await fetch(`${fn.url}/`)).status, 200);
  const deadline = Date.now() + 10_000;
  while (!Buffer.concat(received).includes('GET /') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.ok(Buffer.concat(received).includes('GET /'), 'the SERVER span reached the gRPC collector');
  t.notOk(fn.output().includes('"component":"opentelemetry"'), `no export error: ${fn.output().slice(-500)}`);
});
