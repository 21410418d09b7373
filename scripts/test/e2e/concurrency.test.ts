/**
 * containerConcurrency: with the chart's containerConcurrency set to 1, queue-proxy lets one request at a time into
 * the function; the others wait in its queue and none fails.
 */
import t from 'tap';
import { functionServerSpan, jsonBody, send, startStack, waitForTrace } from './harness.ts';
import { startsAfterEnd } from '../../trace.ts';

t.test('containerConcurrency 1: parallel slow requests are served one at a time, none fails', async (t) => {
  const stack = await startStack(t, { chartSet: ['containerConcurrency=1', 'autoscaling.target=1'] });
  t.equal(stack.model.revision.containerConcurrency, 1, 'the chart value reached the revision');
  const service = stack.model.revision.serviceName;

  const n = 4;
  const bodyMs = 800;
  const started = Date.now();
  const replies = await Promise.all(
    Array.from({ length: n }, (_, i) => send(`${stack.endpoints.FUNCTION_URL}/digest`, { body: jsonBody(`c${i}`), bodyMs })),
  );
  const elapsed = Date.now() - started;
  for (const [i, r] of replies.entries()) t.equal(r.status, 200, `request ${i} succeeded: ${r.body}`);

  // The function's own spans say when each request was inside it: no two may overlap.
  const spans = [];
  for (const r of replies) {
    const trace = await waitForTrace(stack.endpoints.JAEGER_URL, r.traceId!, (tr) => !!functionServerSpan(tr, service));
    spans.push(functionServerSpan(trace, service)!);
  }
  spans.sort((a, b) => a.startTime - b.startTime);
  const intervals = spans.map((s) => `[${s.startTime}, ${s.startTime + s.duration}]`).join(' ');
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1]!;
    t.ok(startsAfterEnd(prev, spans[i]!), `request ${i} entered the function after request ${i - 1} left (in whole ms): ${intervals}`);
  }
  t.comment(`${n} requests of ${bodyMs} ms bodies took ${elapsed} ms in all`);
});
