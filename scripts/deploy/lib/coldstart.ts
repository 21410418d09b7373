// The scale-from-zero probe: wait until the revision has no pods, send one request, time its first byte; repeat.
import { get, parseServerTiming } from './http.ts';
import type { Log } from './steps.ts';

export interface Sample {
  index: number;
  /** Seconds spent waiting for the revision to reach zero pods before this request. */
  waitedSeconds: number;
  status: number;
  ttfbMs: number;
  /** `firstRequest` from the function's JSON body: true when this request was the process's first. */
  firstRequest: boolean | undefined;
  /** The function's own cold-start phases (Server-Timing), ms, in order; empty on a warm process. */
  phases: Array<[string, number]>;
  error?: string;
}

export interface Summary {
  n: number;
  ok: number;
  p50: number;
  p95: number;
  max: number;
  min: number;
}

/** Nearest-rank percentile (q in (0, 1]) of the values; NaN for none. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

export function summarise(samples: readonly Sample[]): Summary {
  const ttfb = samples.filter((s) => !s.error && s.status === 200).map((s) => s.ttfbMs);
  return {
    n: samples.length,
    ok: ttfb.length,
    p50: percentile(ttfb, 0.5),
    p95: percentile(ttfb, 0.95),
    max: ttfb.length ? Math.max(...ttfb) : Number.NaN,
    min: ttfb.length ? Math.min(...ttfb) : Number.NaN,
  };
}

const ms = (v: number): string => `${Math.round(v)} ms`;

export function formatSample(s: Sample): string {
  const head = `  #${String(s.index).padEnd(3)} waited ${s.waitedSeconds.toFixed(1).padStart(6)}s for zero pods`;
  if (s.error) return `${head}  error: ${s.error}`;
  const total = s.phases.find(([name]) => name === 'total')?.[1];
  const phases = s.phases.filter(([name]) => name !== 'total');
  const parts = [
    `${head}  ttfb ${ms(s.ttfbMs).padStart(8)}  status ${s.status}`,
    s.firstRequest === true ? 'cold' : s.firstRequest === false ? 'WARM (the process had served before: not a cold start)' : 'cold?',
  ];
  if (phases.length) {
    parts.push(`phases: ${phases.map(([n, d]) => `${n} ${d.toFixed(1)}`).join(', ')} ms`);
    if (total !== undefined) parts.push(`in process ${ms(total)}, outside (scheduling, pull, start, network) ${ms(Math.max(0, s.ttfbMs - total))}`);
  }
  return parts.join('  ');
}

export function formatSummary(sum: Summary): string {
  if (sum.ok === 0) return `time to first byte: no successful sample out of ${sum.n}`;
  return `time to first byte over ${sum.ok}/${sum.n} samples: p50 ${ms(sum.p50)}  p95 ${ms(sum.p95)}  max ${ms(sum.max)}  (min ${ms(sum.min)})`;
}

/** Median of each phase across samples that reported it, in the order the function sent them. */
export function phaseMedians(samples: readonly Sample[]): Array<[string, number]> {
  const order: string[] = [];
  const values = new Map<string, number[]>();
  for (const s of samples) {
    for (const [name, d] of s.phases) {
      if (!values.has(name)) {
        values.set(name, []);
        order.push(name);
      }
      values.get(name)?.push(d);
    }
  }
  return order.map((name) => [name, percentile(values.get(name) ?? [], 0.5)]);
}

export interface ProbeTarget {
  /** The URL each sample GETs (the Service's URL and the function's probe path). */
  url: string;
  /** Returns how many pods the revision has now. */
  podCount: () => Promise<number>;
}

export interface ProbeOptions {
  samples: number;
  pollMs: number;
  zeroTimeoutMs: number;
  requestTimeoutMs: number;
  log: Log;
}

async function waitForZero(target: ProbeTarget, opts: ProbeOptions): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const n = await target.podCount();
    if (n === 0) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > opts.zeroTimeoutMs) {
      throw new Error(
        `the revision still has ${n} pod(s) after ${Math.round(opts.zeroTimeoutMs / 1000)}s: is autoscaling.minScale > 0, or is something else sending traffic?`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.pollMs));
  }
}

export async function probe(target: ProbeTarget, opts: ProbeOptions): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let index = 1; index <= opts.samples; index += 1) {
    const waitedSeconds = await waitForZero(target, opts);
    let sample: Sample;
    try {
      const r = await get(target.url, { timeoutMs: opts.requestTimeoutMs });
      let firstRequest: boolean | undefined;
      try {
        const body = JSON.parse(r.body) as { firstRequest?: unknown };
        if (typeof body.firstRequest === 'boolean') firstRequest = body.firstRequest;
      } catch {
        // not JSON: leave unknown
      }
      sample = { index, waitedSeconds, status: r.status, ttfbMs: r.ttfbMs, firstRequest, phases: parseServerTiming(r.headers['server-timing']) };
      if (r.status !== 200) sample.error = `GET / answered ${r.status}`;
    } catch (err) {
      sample = { index, waitedSeconds, status: 0, ttfbMs: Number.NaN, firstRequest: undefined, phases: [], error: (err as Error).message };
    }
    samples.push(sample);
    opts.log.out(formatSample(sample));
  }
  return samples;
}
