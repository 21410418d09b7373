/**
 * Pod shutdown: SIGTERM reaches queue-proxy and the function together while requests are in flight. Every
 * in-flight request completes, the function exits 0, its last span reaches Jaeger, and queue-proxy exits 0 after its
 * quiet period (30 s, not configurable).
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { functionServerSpan, jsonBody, send, startStack, waitForTrace } from './harness.ts';

t.test('SIGTERM to queue-proxy and the function with requests in flight: none fails, exit 0, last span exported', { timeout: 150_000 }, async (t) => {
  const stack = await startStack(t);
  const service = stack.model.revision.serviceName;
  const fn = stack.proc('function');
  const qp = stack.proc('queue-proxy');

  const warm = await send(`${stack.endpoints.FUNCTION_URL}/`);
  t.equal(warm.status, 200, 'warm-up request');

  // Requests whose bodies are still arriving when the signals land; the last one starts last.
  const inFlight = Array.from({ length: 4 }, (_, i) => send(`${stack.endpoints.FUNCTION_URL}/digest`, { body: jsonBody(`d${i}`), bodyMs: 1_500 + i * 200 }));
  await sleep(400);
  const signalledAt = Date.now();
  qp.signal('SIGTERM');
  fn.signal('SIGTERM');

  const replies = await Promise.all(inFlight);
  for (const [i, r] of replies.entries()) t.equal(r.status, 200, `in-flight request ${i} completed: ${r.status} ${r.body}`);
  const last = replies.reduce((a, b) => (b.endedAt > a.endedAt ? b : a));
  t.ok(last.endedAt > signalledAt, 'the last request finished after the signals');

  const fnExit = await fn.exited;
  if (fnExit.code !== 0) t.comment(fn.tail(30));
  t.same(fnExit, { code: 0, signal: null }, 'the function exited 0');
  const trace = await waitForTrace(stack.endpoints.JAEGER_URL, last.traceId!, (tr) => !!functionServerSpan(tr, service));
  const span = functionServerSpan(trace, service)!;
  t.equal(span.operationName, 'POST /digest', "the last request's span reached Jaeger after the function exited");

  const qpExit = await qp.exited;
  t.same(qpExit, { code: 0, signal: null }, `queue-proxy exited 0 after draining (${Math.round((Date.now() - signalledAt) / 1000)} s)`);
});
