/** knative-fn/testing's build(): outgoing calls are traced when a test asks for it (traceOutgoing), as in production. */
import t, { type Test } from 'tap';
import { SpanKind } from '@opentelemetry/api';
import type { FastifyPluginAsync } from 'fastify';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from '../src/testing.js';

/** A function whose GET /call fetches the URL given in ?url= and answers the traceparent the callee received. */
const routes: FastifyPluginAsync = async (app) => {
  app.get<{ Querystring: { url: string } }>('/call', async (request) => (await fetch(request.query.url)).json());
};

async function callee(t: Test): Promise<string> {
  const server = createServer((req, res) => res.end(JSON.stringify({ traceparent: req.headers.traceparent ?? null })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

t.test('by default, outgoing calls in a test are not traced', async (t) => {
  const url = await callee(t);
  const fn = await build({ routes });
  t.teardown(() => fn.close());
  const res = await fn.app.inject({ url: `/call?url=${encodeURIComponent(url)}` });
  t.same(res.json(), { traceparent: null });
  t.notOk(fn.spans().some((s) => s.kind === SpanKind.CLIENT));
});

t.test('traceOutgoing: a fetch is a CLIENT span of the request, and the callee gets its traceparent', async (t) => {
  const url = await callee(t);
  const fn = await build({ routes }, { traceOutgoing: true });
  t.teardown(() => fn.close());
  const res = await fn.app.inject({ url: `/call?url=${encodeURIComponent(url)}` });
  const sent = (res.json() as { traceparent: string | null }).traceparent ?? '';
  t.match(sent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  // The SDK's span processor hands spans over a little after the response (resource detectors).
  for (let i = 0; i < 50 && !fn.spans().some((s) => s.kind === SpanKind.CLIENT); i++) await new Promise((r) => setTimeout(r, 20));
  const client = fn.spans().find((s) => s.kind === SpanKind.CLIENT);
  const server = fn.spans().find((s) => s.kind === SpanKind.SERVER);
  t.equal(sent.split('-')[2], client?.spanContext().spanId, 'traceparent names the CLIENT span');
  t.equal(client?.parentSpanContext?.spanId, server?.spanContext().spanId, "the CLIENT span is the request's child");
});
