/**
 * Prometheus scrapes what the chart's PodMonitor selects: the function target is up, and the request counter moves
 * by exactly the number of requests sent (queue-proxy's probes and Prometheus' scrapes are not counted).
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { promValue, send, startStack, until } from './harness.ts';

t.test('the function target is up and http_server_request_duration_seconds_count counts exactly our requests', async (t) => {
  const stack = await startStack(t);
  const prom = stack.endpoints.PROMETHEUS_URL;
  const fnUrl = stack.endpoints.FUNCTION_URL;

  const up = await until('the function target up == 1', () => promValue(prom, 'up{container="function"}').then((v) => (v === 1 ? v : undefined)), 20_000);
  t.equal(up, 1, 'up{container="function"} == 1');
  if (stack.model.scrape.some((s) => s.port === 'http-usermetric')) {
    const qpUp = await until('the queue-proxy target up == 1', () => promValue(prom, 'up{container="queue-proxy"}').then((v) => (v === 1 ? v : undefined)), 20_000);
    t.equal(qpUp, 1, "queue-proxy's request metrics target is up too (the chart's PodMonitor selects it)");
  } else {
    t.equal(await promValue(prom, 'count(up{container="queue-proxy"})'), undefined, "queue-proxy is not scraped: the chart's PodMonitor does not select it");
  }

  // queue-proxy's otelhttp metrics use the same name (http.server.request.duration): select the function's target.
  const countQuery = 'sum(http_server_request_duration_seconds_count{container="function",route="/"}) or vector(0)';
  const allQuery = 'sum(http_server_request_duration_seconds_count{container="function"}) or vector(0)';
  // Scrapes read the counter after at least one full scrape past any earlier activity.
  await sleep(2_500);
  const before = (await promValue(prom, countQuery)) ?? 0;
  const beforeAll = (await promValue(prom, allQuery)) ?? 0;

  const n = 7;
  for (let i = 0; i < n; i++) {
    const r = await send(`${fnUrl}/`);
    t.equal(r.status, 200, `request ${i + 1} through queue-proxy`);
  }
  // Meanwhile queue-proxy keeps probing readiness and Prometheus keeps scraping /metrics: wait several scrapes.
  await sleep(4_000);
  const after = await until(
    `the counter to reach ${before + n}`,
    () => promValue(prom, countQuery).then((v) => (v !== undefined && v >= before + n ? v : undefined)),
    15_000,
  );
  await sleep(3_000);
  const settled = (await promValue(prom, countQuery)) ?? 0;
  const settledAll = (await promValue(prom, allQuery)) ?? 0;
  t.equal(after - before, n, `GET / counted ${n} times`);
  t.equal(settled - before, n, 'and no more after several scrapes and probes');
  t.equal(settledAll - beforeAll, n, 'no other route (probes, /metrics) counted');

  const direct = await fetch(stack.endpoints.METRICS_URL);
  const text = await direct.text();
  t.match(text, /^http_server_request_duration_seconds_bucket\{.*route="\/".*\} /m, "METRICS_URL serves the function's histogram");
  t.notMatch(text, /route="\/(healthz|readyz|metrics)"/, 'probes and scrapes are not series');
});
