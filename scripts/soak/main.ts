/**
 * `make soak`: the function behind Knative's queue-proxy (the local stack, scripts/dev/lib/stack.ts) under 70% of its
 * measured maximum rate for SOAK_SECONDS (default 600). Prints one line per window and the figures: errors (must be
 * 0), p99 drift (last window vs first), RSS growth after warm-up (must be <= 10%), event-loop lag p99 (the
 * function's prom-client gauge, max over each window, from the stack's Prometheus). Memory is read after a full GC
 * forced through the function's inspector (NODE_OPTIONS=--inspect, local only), so readings are comparable.
 * Exits 1 when a limit is broken.
 *
 * Settings (environment): SOAK_SECONDS=600, SOAK_WINDOW_SECONDS=30, SOAK_LOAD_FRACTION=0.7, SOAK_CONCURRENCY=8,
 * SOAK_WARMUP_SECONDS=20, SOAK_PROBE_SECONDS=15.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Stack } from '../dev/lib/stack.ts';
import { portInUse } from '../dev/lib/wait.ts';
import { Inspector } from './inspector.ts';
import { Load, summarize, type Outcome } from './load.ts';

const num = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${raw} must be a positive number`);
  return n;
};

const SECONDS = num('SOAK_SECONDS', 600);
const WINDOW = num('SOAK_WINDOW_SECONDS', 30);
const FRACTION = num('SOAK_LOAD_FRACTION', 0.7);
const CONCURRENCY = num('SOAK_CONCURRENCY', 8);
const WARMUP = num('SOAK_WARMUP_SECONDS', 20);
const PROBE = num('SOAK_PROBE_SECONDS', 15);
const RSS_GROWTH_LIMIT = 0.1;

const say = (m: string): void => void process.stdout.write(`${m}\n`);

function canIsolate(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The function's own metrics: RSS and the event-loop lag p99 since the previous scrape (prom-client resets it). */
async function scrape(metricsUrl: string): Promise<{ rssMiB: number; lagP99Ms: number; heapMiB: number }> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) })).text();
  const value = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  return {
    rssMiB: value('process_resident_memory_bytes') / 1_048_576,
    heapMiB: value('nodejs_heap_size_used_bytes') / 1_048_576,
    lagP99Ms: value('nodejs_eventloop_lag_p99_seconds') * 1000,
  };
}

/** Event-loop lag p99 over the last window from Prometheus (it scrapes the function; each scrape resets the histogram). */
async function lagFromPrometheus(prometheusUrl: string, seconds: number): Promise<number> {
  const query = `max_over_time(nodejs_eventloop_lag_p99_seconds{container="function"}[${Math.max(1, Math.round(seconds))}s])`;
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(5_000) });
  const body = (await res.json()) as { data?: { result: Array<{ value: [number, string] }> } };
  const v = body.data?.result[0]?.value[1];
  return v === undefined ? NaN : Number(v) * 1000;
}

const r1 = (n: number): number => Math.round(n * 10) / 10;

async function main(): Promise<number> {
  const isolate = canIsolate();
  if (!isolate) {
    for (const p of [8022, 9090]) {
      if (await portInUse(p)) throw new Error(`port ${p} is taken (queue-proxy's fixed admin/stats port): stop make dev or the e2e tests first`);
    }
  }
  const stateDir = mkdtempSync(join(tmpdir(), 'knative-fn-soak-'));
  const started = Date.now();
  say(`soak: starting the local stack (${isolate ? 'own network namespace' : 'host network'})`);
  // The inspector only to force a full GC before each memory reading (in its own network namespace when isolated).
  const inspectAt = isolate ? '0.0.0.0:0' : '127.0.0.1:0';
  const stack = await Stack.start({
    stateDir,
    isolate,
    scrapeInterval: '2s',
    functionEnv: { NODE_OPTIONS: `--inspect=${inspectAt}` },
    onStep: (m) => say(`  ${m}`),
  });
  const stop = async () => {
    await stack.stop({ drain: false, fast: true });
    rmSync(stateDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    const url = `${stack.endpoints.FUNCTION_URL}/sign`;
    const body = JSON.stringify({ order: 42, items: ['a', 'b', 'c'], pad: 'x'.repeat(256) });
    const metricsUrl = stack.endpoints.METRICS_URL;
    const inspector = await Inspector.attach(stack.proc('function').output(), stack.network.podIp);

    say(`soak: warm-up ${WARMUP} s, then ${PROBE} s at full speed (${CONCURRENCY} connections) to measure the maximum rate`);
    const warm = new Load({ url, body, concurrency: CONCURRENCY }).start();
    await sleep(WARMUP * 1000);
    const warmOutcomes = await warm.stop();
    const probe = new Load({ url, body, concurrency: CONCURRENCY }).start();
    await sleep(PROBE * 1000);
    const probeOutcomes = await probe.stop();
    const max = summarize(probeOutcomes, PROBE);
    const rate = Math.max(1, Math.round(max.rate * FRACTION));
    say(`soak: maximum ${max.rate} req/s (p99 ${max.p99Ms} ms); soaking at ${rate} req/s (${FRACTION * 100}%) for ${SECONDS} s`);

    await scrape(metricsUrl); // resets the event-loop histogram
    const baseline = await inspector.memoryAfterGc();
    const load = new Load({ url, body, concurrency: CONCURRENCY * 2, rate }).start();
    const windows: Array<{ window: number; sent: number; failed: number; rate: number; p50Ms: number; p99Ms: number; rssMiB: number; heapMiB: number; rawRssMiB: number; lagP99Ms: number }> = [];
    let from = 0;
    const end = Date.now() + SECONDS * 1000;
    say('window  req/s  failed  p50 ms  p99 ms  RSS MiB  heap MiB  (after GC)  raw RSS MiB  loop lag p99 ms');
    while (Date.now() < end) {
      const windowStart = Date.now();
      await sleep(Math.min(WINDOW * 1000, end - Date.now()));
      const outcomes: Outcome[] = load.outcomes.slice(from);
      from += outcomes.length;
      const s = summarize(outcomes, (Date.now() - windowStart) / 1000);
      const m = await scrape(metricsUrl).catch(() => ({ rssMiB: NaN, heapMiB: NaN, lagP99Ms: NaN }));
      m.lagP99Ms = await lagFromPrometheus(stack.endpoints.PROMETHEUS_URL, WINDOW).catch(() => m.lagP99Ms);
      const gc = await inspector.memoryAfterGc();
      const w = { window: windows.length + 1, sent: s.sent, failed: s.failed, rate: s.rate, p50Ms: s.p50Ms, p99Ms: s.p99Ms, rssMiB: r1(gc.rss), heapMiB: r1(gc.heapUsed), rawRssMiB: r1(m.rssMiB), lagP99Ms: r1(m.lagP99Ms) };
      windows.push(w);
      say(
        `${String(w.window).padStart(6)}  ${String(w.rate).padStart(5)}  ${String(w.failed).padStart(6)}  ${String(w.p50Ms).padStart(6)}  ${String(w.p99Ms).padStart(6)}  ${String(w.rssMiB).padStart(7)}  ${String(w.heapMiB).padStart(8)}              ${String(w.rawRssMiB).padStart(11)}  ${String(w.lagP99Ms).padStart(15)}`,
      );
    }
    const all = await load.stop();
    inspector.close();
    const total = summarize(all, (Date.now() - load.startedAt) / 1000);
    const first = windows[0]!;
    const last = windows.at(-1)!;
    const rssGrowth = (last.rssMiB - first.rssMiB) / first.rssMiB;
    const figures = {
      seconds: SECONDS,
      maxRate: max.rate,
      targetRate: rate,
      achievedRate: total.rate,
      sent: total.sent,
      errors: total.failed,
      byStatus: total.byStatus,
      p99FirstWindowMs: first.p99Ms,
      p99LastWindowMs: last.p99Ms,
      p99DriftMs: r1(last.p99Ms - first.p99Ms),
      p99OverallMs: total.p99Ms,
      rssBeforeSoakMiB: r1(baseline.rss),
      heapAfterGcFirstMiB: first.heapMiB,
      heapAfterGcEndMiB: last.heapMiB,
      rawRssMaxMiB: Math.max(...windows.map((w) => w.rawRssMiB)),
      rssAfterWarmupMiB: first.rssMiB,
      rssEndMiB: last.rssMiB,
      rssGrowthAfterWarmupPct: r1(rssGrowth * 100),
      eventLoopLagP99MaxMs: Math.max(...windows.map((w) => w.lagP99Ms)),
      warmupRequests: warmOutcomes.length,
      wallSeconds: Math.round((Date.now() - started) / 1000),
    };
    say(`soak figures ${JSON.stringify(figures)}`);
    const problems: string[] = [];
    if (figures.errors > 0) problems.push(`${figures.errors} requests failed: ${JSON.stringify(total.byStatus)}`);
    if (windows.length >= 2 && rssGrowth > RSS_GROWTH_LIMIT) problems.push(`RSS grew ${figures.rssGrowthAfterWarmupPct}% after warm-up (limit ${RSS_GROWTH_LIMIT * 100}%)`);
    if (stack.proc('function').exit) problems.push(`the function exited during the soak:\n${stack.proc('function').tail()}`);
    for (const p of problems) process.stderr.write(`soak: FAILED: ${p}\n`);
    if (!problems.length) say('soak: passed (0 errors, RSS growth within 10%)');
    return problems.length ? 1 : 0;
  } finally {
    await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
