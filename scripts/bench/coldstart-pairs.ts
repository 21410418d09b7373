#!/usr/bin/env node
/**
 * Scale from zero, the function against a baseline Knative Service in the same run, alternating: for each pair,
 * `make coldstart`'s probe (scripts/coldstart.ts, one sample) on the first service, then on the second; each waits
 * for its revision to have no pods. Alternating puts the machine's load of the moment on both alike. Prints p50/p95
 * per service, the function's Server-Timing phases (medians) and the load average at each sample.
 *
 *   node scripts/bench/coldstart-pairs.ts [--env local] [--pairs 10] [--services knative-fn,bare-fastify] [--json out.json]
 *
 * The baseline on the local cluster: bin/kubectl --kubeconfig ~/.cache/knative-fn/cluster/kubeconfig apply -f
 * scripts/cluster/bare-fastify.yaml. COLDSTART_POLL_SECONDS (default 1 here) is passed on.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { phaseMedians, summarise, type Sample } from '../deploy/lib/coldstart.ts';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    env: { type: 'string', default: 'local' },
    pairs: { type: 'string', default: '10' },
    services: { type: 'string', default: 'knative-fn,bare-fastify' },
    json: { type: 'string' },
  },
});
const services = (values.services ?? '').split(',').filter(Boolean);
const pairs = Number(values.pairs);
const dir = mkdtempSync(join(tmpdir(), 'coldstart-'));
const results: Record<string, Array<Sample & { loadAverage1m: number; at: string }>> = Object.fromEntries(services.map((s) => [s, []]));
const run = (service: string, out: string) =>
  new Promise<void>((done, fail) => {
    const env = { ...process.env, COLDSTART_POLL_SECONDS: process.env.COLDSTART_POLL_SECONDS ?? '1' };
    execFile(process.execPath, ['scripts/coldstart.ts', '--env', values.env ?? 'local', '--samples', '1', '--service', service, '--json', out], { cwd: ROOT, env }, (err, stdout, stderr) =>
      err ? fail(new Error(`${service}: ${err.message}\n${stdout}${stderr}`)) : done(),
    );
  });
try {
  for (let i = 1; i <= pairs; i++) {
    for (const service of services) {
      const out = join(dir, `${service}-${i}.json`);
      await run(service, out);
      const sample = (JSON.parse(readFileSync(out, 'utf8')) as { samples: Sample[] }).samples[0] as Sample;
      const loadAverage1m = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
      results[service]?.push({ ...sample, index: i, loadAverage1m, at: new Date().toISOString() });
      const phases = sample.phases.map(([n, ms]) => `${n} ${ms}`).join(', ');
      process.stderr.write(`pair ${i} ${service}: ${Math.round(sample.ttfbMs)} ms${sample.firstRequest ? ' (new process)' : ''}, load ${loadAverage1m}${phases ? `, phases ${phases}` : ''}\n`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const lines: string[] = ['', '| service | n | p50 | p95 | min | max | load average at the samples |', '|---|---|---|---|---|---|---|'];
for (const service of services) {
  const rs = results[service] ?? [];
  const s = summarise(rs);
  const loads = rs.map((r) => r.loadAverage1m).sort((a, b) => a - b);
  lines.push(`| ${service} | ${s.ok}/${s.n} | ${Math.round(s.p50)} ms | ${Math.round(s.p95)} ms | ${Math.round(s.min)} ms | ${Math.round(s.max)} ms | ${loads[0]}-${loads.at(-1)} |`);
}
for (const service of services) {
  const medians = phaseMedians(results[service] ?? []);
  if (medians.length) lines.push('', `${service} phases (Server-Timing, medians): ${medians.map(([n, ms]) => `${n} ${ms.toFixed(1)}`).join(', ')} ms`);
}
process.stdout.write(`${lines.join('\n')}\n`);
if (values.json) writeFileSync(values.json, `${JSON.stringify({ env: values.env, services: Object.fromEntries(services.map((s) => [s, { summary: summarise(results[s] ?? []), samples: results[s] }])) }, null, 2)}\n`);
