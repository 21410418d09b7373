/** wrk runs against one server: at fixed concurrency (throughput), or at a fixed offered rate (latency). */
import { execFile } from 'node:child_process';
import { join } from 'node:path';

export interface LoadResult {
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  errors: number;
  non2xx: number;
}

export interface LoadOptions {
  port: number;
  connections: number;
  seconds: number;
  /** Offered request rate (req/s); 0 or absent: as fast as the server answers. */
  rate?: number;
  /** Request path and query (BENCH_PATH); `/` when absent. */
  path?: string;
}

export function wrk(bin: string, scriptDir: string, o: LoadOptions): Promise<LoadResult> {
  const args = ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--timeout', '5s', '-s', join(scriptDir, 'wrk.lua'), `http://127.0.0.1:${o.port}${o.path ?? '/'}`];
  const env = { ...process.env, BENCH_RATE: String(o.rate ?? 0), BENCH_CONNECTIONS: String(o.connections) };
  return new Promise((resolve, reject) => {
    execFile(bin, args, { env, timeout: (o.seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk ${args.join(' ')}: ${err.message}\n${stderr}`));
      const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
      if (!line) return reject(new Error(`wrk printed no summary:\n${stdout}\n${stderr}`));
      const s = JSON.parse(line.slice('BENCH_JSON '.length)) as Record<string, number>;
      const ms = (us: number | undefined) => (us ?? 0) / 1000;
      resolve({
        rps: (s.requests ?? 0) / ((s.durationUs ?? 1) / 1e6),
        p50Ms: ms(s.p50Us),
        p90Ms: ms(s.p90Us),
        p99Ms: ms(s.p99Us),
        maxMs: ms(s.maxUs),
        requests: s.requests ?? 0,
        errors: s.errors ?? 0,
        non2xx: s.non2xx ?? 0,
      });
    });
  });
}
