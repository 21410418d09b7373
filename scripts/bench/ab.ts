#!/usr/bin/env node
/**
 * Two builds of the function, A and B, alternately under the same load: CPU time per request of the server process
 * (user + system, /proc) and req/s, median of R rounds each. For checking one change at a time, quicker than
 * `make bench`.
 *
 *   node scripts/bench/ab.ts --a DIR_A --b DIR_B [--sampling off|ratio|all] [--rounds 4] [--seconds 5] [--path /] [--plain a|b]
 *
 * DIR_A and DIR_B are built dist/ directories (e.g. a copy of dist/ made before a change, and dist/). Each starts as
 * the image starts it (from its start-up snapshot when this Node made it); `--plain a` starts A from its plain entry
 * (`--a dist --b dist --plain a`: what the snapshot does to the steady state).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { wrk } from './lib/load.ts';
import { startOtlpSink } from './lib/peers.ts';
import { cpuMs, start } from './lib/proc.ts';
import { serverArgs } from '../lib/snapshot.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string', default: 'dist' },
    sampling: { type: 'string', default: 'ratio' },
    rounds: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    path: { type: 'string', default: process.env.BENCH_PATH ?? '/' },
    plain: { type: 'string' },
  },
});
if (!values.a) throw new Error('--a DIR (a built dist/) is required');
const sampling = values.sampling;
const sink = await startOtlpSink();
const env = {
  NODE_ENV: 'production',
  METRICS_PORT: '0',
  K_SERVICE: 'bench',
  K_REVISION: 'bench-00001',
  OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
  OTEL_TRACES_SAMPLER: sampling === 'all' ? 'parentbased_always_on' : 'parentbased_traceidratio',
  OTEL_TRACES_SAMPLER_ARG: sampling === 'ratio' ? '0.1' : '1',
  ...(sampling === 'off' ? { OTEL_TRACES_EXPORTER: 'none' } : {}),
};
const builds = { A: resolve(values.a), B: resolve(values.b) };
const runs: Record<string, Array<{ cpuUs: number; rps: number }>> = { A: [], B: [] };
const wrkBin = process.env.WRK_BIN ?? 'wrk';
const connections = Number(values.connections);
for (let r = 0; r < Number(values.rounds); r++) {
  for (const id of r % 2 === 0 ? ['A', 'B'] : ['B', 'A']) {
    const server = `${builds[id as 'A' | 'B']}/server.js`;
    const args = values.plain?.toUpperCase() === id ? [server] : serverArgs(server);
    const s = await start(process.execPath, { id, label: id, args, env, path: values.path });
    try {
      await wrk(wrkBin, HERE, { port: s.port, connections, seconds: 2, path: values.path });
      const cpu0 = cpuMs(s.child.pid ?? 0);
      const m = await wrk(wrkBin, HERE, { port: s.port, connections, seconds: Number(values.seconds), path: values.path });
      const cpuUs = ((cpuMs(s.child.pid ?? 0) - cpu0) * 1000) / Math.max(1, m.requests);
      runs[id]?.push({ cpuUs, rps: m.rps });
      process.stderr.write(`  round ${r + 1} ${id}: ${cpuUs.toFixed(1)} us CPU/request, ${Math.round(m.rps)} req/s\n`);
    } finally {
      await s.stop();
    }
  }
}
await sink.stop();
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)] ?? NaN;
for (const id of ['A', 'B'] as const) {
  const rs = runs[id] ?? [];
  process.stdout.write(`${id} ${builds[id]}: median ${median(rs.map((x) => x.cpuUs)).toFixed(1)} us CPU/request, ${Math.round(median(rs.map((x) => x.rps)))} req/s (tracing ${sampling})\n`);
}
