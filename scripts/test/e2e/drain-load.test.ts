/**
 * Drain under constant load, through Knative's queue-proxy, in the pod shutdown order: SIGTERM to queue-proxy (it
 * keeps serving while it drains), the function's preStop hook (GET :8022/wait-for-drain) blocks until queue-proxy has
 * drained, then SIGTERM to the function. The load keeps running for LOAD_AFTER_SIGTERM_MS after the first signal (the
 * time the activator and ingress take to stop routing to a terminating pod), then stops.
 *
 * Figures (printed as "drain figures {...}"): requests sent, failed (must be 0), time to exit, spans lost (must be 0:
 * every answered request's SERVER span reached Jaeger).
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpGet } from '../../dev/lib/wait.ts';
import { Load, summarize } from '../../soak/load.ts';
import type { JaegerTrace } from '../../trace.ts';
import { functionServerSpans, startStack } from './harness.ts';

const CONCURRENCY = 8;
const WARM_MS = 3_000;
const LOAD_AFTER_SIGTERM_MS = 5_000;

t.test('constant load through queue-proxy during the pod shutdown sequence: no request fails, no span lost', { timeout: 180_000 }, async (t) => {
  const stack = await startStack(t);
  const service = stack.model.revision.serviceName;
  const fn = stack.proc('function');
  const qp = stack.proc('queue-proxy');

  const load = new Load({ url: `${stack.endpoints.FUNCTION_URL}/digest`, body: JSON.stringify({ order: 1, pad: 'x'.repeat(200) }), concurrency: CONCURRENCY }).start();
  await sleep(WARM_MS);

  // The kubelet: SIGTERM to queue-proxy and the function container's preStop hook at the same time.
  const signalledAt = Date.now();
  qp.signal('SIGTERM');
  const preStop = httpGet(`${stack.endpoints.QUEUE_PROXY_ADMIN_URL}/wait-for-drain`, {}, 120_000).catch((err: unknown) => ({ status: 0, body: String(err) }));
  await sleep(LOAD_AFTER_SIGTERM_MS);
  const outcomes = await load.stop();
  const loadStoppedAt = Date.now();
  const drained = await preStop;
  const preStopMs = Date.now() - signalledAt;
  // preStop returned: the kubelet now sends SIGTERM to the function.
  const fnSignalledAt = Date.now();
  fn.signal('SIGTERM');
  const fnExit = await fn.exited;
  const fnExitMs = Date.now() - fnSignalledAt;
  const qpExit = await qp.exited;
  const podGoneMs = Date.now() - signalledAt;

  // Every answered request's span must reach Jaeger (the function flushes its batch before exiting).
  const answered = new Set(outcomes.filter((o) => o.status === 200 && o.traceId).map((o) => o.traceId!));
  const found = new Set<string>();
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const res = await fetch(`${stack.endpoints.JAEGER_URL}/api/traces?service=${encodeURIComponent(service)}&limit=${answered.size * 2 + 100}&lookback=1h`);
    const { data } = (await res.json()) as { data: JaegerTrace[] };
    for (const trace of data ?? []) if (functionServerSpans(trace, service).length) found.add(trace.traceID);
    if ([...answered].every((id) => found.has(id))) break;
    await sleep(1_000);
  }
  const lost = [...answered].filter((id) => !found.has(id));

  const during = outcomes.filter((o) => o.at >= signalledAt);
  const summary = summarize(outcomes);
  const figures = {
    sent: summary.sent,
    failed: summary.failed,
    byStatus: summary.byStatus,
    sentAfterSigterm: during.length,
    failedAfterSigterm: during.filter((o) => o.status !== 200).length,
    rate: summary.rate,
    p99Ms: summary.p99Ms,
    preStopMs,
    functionExitMs: fnExitMs,
    podGoneMs,
    loadStoppedAfterSigtermMs: loadStoppedAt - signalledAt,
    spansExpected: answered.size,
    spansLost: lost.length,
  };
  t.comment(`drain figures ${JSON.stringify(figures)}`);

  t.ok(summary.sent > 100, `load was applied (${summary.sent} requests, ${summary.rate}/s)`);
  t.ok(during.length > 0, `requests kept arriving after SIGTERM (${during.length})`);
  t.equal(summary.failed, 0, `no request failed: ${JSON.stringify(summary.byStatus)}`);
  t.equal(drained.status, 200, `preStop (wait-for-drain) returned once queue-proxy drained: ${JSON.stringify(drained).slice(0, 200)}`);
  t.same(fnExit, { code: 0, signal: null }, `the function exited 0 (${fnExitMs} ms after its SIGTERM):\n${fn.tail()}`);
  t.ok(fnExitMs < 10_000, `the function exited within 10 s of its SIGTERM (${fnExitMs} ms)`);
  t.same(qpExit, { code: 0, signal: null }, `queue-proxy exited 0:\n${qp.tail()}`);
  t.equal(lost.length, 0, `no span lost (${answered.size} expected; missing e.g. ${lost.slice(0, 3).join(', ')})`);
});
