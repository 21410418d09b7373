/**
 * The machine's load while a benchmark runs, sampled once a second: the 1-minute load average, how busy the CPUs
 * were, the time the hypervisor stole, and the CPU that processes outside this benchmark's own process tree used
 * (other jobs on the machine: what makes figures noisy).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface LoadSample {
  /** Seconds since the monitor started. */
  t: number;
  loadAverage1m: number;
  /** CPUs busy, in cores (0..cores), over the last interval. */
  busyCores: number;
  /** Stolen by the hypervisor, in cores. */
  stealCores: number;
  /** Busy outside this process and its descendants (servers, wrk, moto), in cores. */
  otherCores: number;
}

export interface LoadSummary {
  cores: number;
  intervalMs: number;
  samples: number;
  loadAverage1m: Stats;
  busyCores: Stats;
  stealCores: Stats;
  otherCores: Stats;
}

export interface Stats {
  min: number;
  median: number;
  p90: number;
  max: number;
}

const TICK_MS = 10; // USER_HZ = 100 on Linux

function cpuTicks(): { busy: number; steal: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  const busy = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0);
  return { busy, steal: steal ?? 0, total: busy + (idle ?? 0) + (iowait ?? 0) + (steal ?? 0) };
}

/** CPU ticks used so far by `root` and every process below it (live ones; an exited child's last slice is missed). */
function treeTicks(root: number): number {
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(name), Number(f[1]));
      ticks.set(Number(name), Number(f[11]) + Number(f[12]));
    } catch {
      // exited meanwhile
    }
  }
  let sum = 0;
  for (const [pid, t] of ticks) {
    for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 0 && hops < 64; p = parent.get(p), hops++) {
      if (p === root) {
        sum += t;
        break;
      }
    }
  }
  return sum;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number);
};
const r2 = (n: number) => Math.round(n * 100) / 100;
const stats = (xs: number[]): Stats => ({ min: r2(Math.min(...xs)), median: r2(quantile(xs, 0.5)), p90: r2(quantile(xs, 0.9)), max: r2(Math.max(...xs)) });

export interface LoadMonitor {
  samples: LoadSample[];
  /** Summary of the samples taken between two moments of the run (seconds since start), or of all of them. */
  summary(from?: number, to?: number): LoadSummary;
  now(): number;
  stop(): LoadSummary;
}

export function startLoadMonitor(intervalMs = 1_000): LoadMonitor {
  const started = Date.now();
  const samples: LoadSample[] = [];
  let cpu = cpuTicks();
  let own = treeTicks(process.pid);
  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    const c = cpuTicks();
    const o = treeTicks(process.pid);
    const elapsedTicks = Math.max(1, (now - last) / TICK_MS);
    const busy = (c.busy - cpu.busy) / elapsedTicks;
    const ownCores = Math.max(0, o - own) / elapsedTicks;
    samples.push({
      t: r2((now - started) / 1000),
      loadAverage1m: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
      busyCores: r2(busy),
      stealCores: r2((c.steal - cpu.steal) / elapsedTicks),
      otherCores: r2(Math.max(0, busy - ownCores)),
    });
    cpu = c;
    own = o;
    last = now;
  }, intervalMs);
  timer.unref();
  const summary = (from = 0, to = Infinity): LoadSummary => {
    const s = samples.filter((x) => x.t >= from && x.t <= to);
    const of = (k: keyof LoadSample) => (s.length ? s.map((x) => x[k]) : [NaN]);
    return {
      cores: cpus().length,
      intervalMs,
      samples: s.length,
      loadAverage1m: stats(of('loadAverage1m')),
      busyCores: stats(of('busyCores')),
      stealCores: stats(of('stealCores')),
      otherCores: stats(of('otherCores')),
    };
  };
  return {
    samples,
    summary,
    now: () => (Date.now() - started) / 1000,
    stop: () => {
      clearInterval(timer);
      return summary();
    },
  };
}

/** Coefficient of variation (sample standard deviation / mean) of repeated measurements; NaN below two. */
export function cv(xs: number[]): number {
  if (xs.length < 2) return NaN;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
  return Math.sqrt(variance) / mean;
}

/**
 * value / base rounded to two decimals, or null with the reason when either variant's coefficient of variation is
 * above maxCv (or unknown: fewer than two measurements). A ratio of two noisy figures says nothing about the code.
 */
export function noisyRatio(value: number, base: number, cvValue: number, cvBase: number, maxCv: number): { ratio: number | null; withheld?: string } {
  const worst = Math.max(cvValue, cvBase);
  if (Number.isNaN(worst)) return { ratio: null, withheld: 'fewer than two measurements' };
  if (worst > maxCv) return { ratio: null, withheld: `CV ${Math.round(worst * 100)} % > ${Math.round(maxCv * 100)} %` };
  return { ratio: Math.round((value / base) * 100) / 100 };
}
