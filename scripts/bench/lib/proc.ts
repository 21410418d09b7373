/**
 * One benchmarked server process: spawned, timed from spawn to its first 200 on GET /, measured (RSS at that moment),
 * and stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { freePort, sleep } from './peers.ts';

export interface Variant {
  /** Key in bench-results.json. */
  id: string;
  label: string;
  args: string[];
  /** Extra environment on top of a minimal one (PATH, HOME). */
  env: Record<string, string>;
  cwd?: string;
  /** The request path timed and loaded (BENCH_PATH); `/` when absent. */
  path?: string;
}

export interface Running {
  child: ChildProcess;
  port: number;
  /** Spawn to the first 200 on GET <path>, in ms. */
  readyMs: number;
  /** Resident set size when the first 200 arrived, in bytes. */
  rssBytes: number;
  stop(): Promise<void>;
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** CPU time (user + system) a process has used, in ms: from /proc/<pid>/stat, in clock ticks of 10 ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name: state is field 3, utime field 14, stime field 15 (1-based, man proc).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * Starts a variant on a fresh port; resolves at its first 200 on GET <path>. stdout goes to a pipe this process reads
 * and discards, as a container's stdout goes to a pipe the container runtime reads: a write(2) to a pipe costs the
 * writer more than one to /dev/null (scripts/bench/log-line.ts).
 */
export async function start(node: string, variant: Variant, timeoutMs = 30_000): Promise<Running> {
  const port = await freePort();
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...variant.env, PORT: String(port) };
  let stderr = '';
  const began = performance.now();
  const child = spawn(node, variant.args, { env, cwd: variant.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.resume();
  child.stderr?.on('data', (d) => (stderr = (stderr + String(d)).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${variant.label} exited with ${child.exitCode} before serving: ${stderr}`);
    if (performance.now() - began > timeoutMs) {
      await stop();
      throw new Error(`${variant.label} did not answer 200 on GET / within ${timeoutMs} ms: ${stderr}`);
    }
    try {
      const status = await get(port, variant.path ?? '/');
      if (status === 200) {
        const readyMs = performance.now() - began;
        return { child, port, readyMs, rssBytes: rss(child.pid ?? 0), stop };
      }
    } catch {
      // not listening yet
    }
    await sleep(2);
  }
}
