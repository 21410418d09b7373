#!/usr/bin/env node
/**
 * `make bench`: the function against bare Fastify (and bare node:http) on this machine, in one run, alternating
 * between variants so that load from other processes falls on all of them alike. Figures are reported as ratios to
 * bare Fastify; nothing here fails on timing (only on a variant that does not start or answers errors).
 *
 *   cold start   spawn -> first 200 on GET /, RSS at that moment; the function fully configured: secrets from moto,
 *                traces exported to a local OTLP receiver, metrics on
 *   load         wrk at fixed concurrency: req/s, p50/p99; the function with tracing at 100 %, 10 % and off
 *   latency      wrk at half of bare Fastify's max rate: p99 of each variant
 *   payload      bytes of dist/ (what the image's runtime stage copies) vs bare Fastify's node_modules closure
 *
 * Options: --spawns N (15) --seconds S (8) --rounds R (2) --connections C (50) --out FILE (bench-results.json)
 *          --compare DIR (also cold-start/load the build in DIR/dist, e.g. an older commit's) --skip-load
 * Environment: WRK_BIN, MOTO_SERVER_BIN override the tools' paths.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wrk, type LoadResult } from './lib/load.ts';
import { startMoto, startOtlpSink } from './lib/peers.ts';
import { cpuMs, start, type Variant } from './lib/proc.ts';
import { serverArgs } from '../lib/snapshot.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const SECRET_ID = 'bench/signing';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}
const SPAWNS = Number(option('spawns', '15'));
const SECONDS = Number(option('seconds', '8'));
const ROUNDS = Number(option('rounds', '2'));
const CONNECTIONS = Number(option('connections', '50'));
const OUT = resolve(ROOT, option('out', 'bench-results.json'));
const COMPARE = option('compare', '');
const SKIP_LOAD = process.argv.includes('--skip-load');

const say = (line: string) => process.stderr.write(`${line}\n`);
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number);
};
const median = (xs: number[]) => quantile(xs, 0.5);
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function which(name: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

/** ENV lines of the image's runtime stage: the function runs here as it runs in the image. */
function imageEnv(): Record<string, string> {
  const stages = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').split(/^FROM /m);
  const env: Record<string, string> = {};
  for (const m of (stages.at(-1) ?? '').matchAll(/^ENV\s+(\w+)=(\S+)\s*$/gm)) env[m[1] as string] = m[2] as string;
  return env;
}

function bytesUnder(dir: string, filter: (name: string) => boolean = () => true): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += bytesUnder(path, filter);
    else if (entry.isFile() && filter(entry.name)) total += statSync(path).size;
  }
  return total;
}

/** Bytes an unbundled Fastify app ships: fastify and its production dependencies, transitively. */
function packageClosureBytes(name: string): number {
  const seen = new Set<string>();
  const visit = (pkg: string, from: string) => {
    let dir = from;
    for (;;) {
      const candidate = join(dir, 'node_modules', pkg);
      if (existsSync(join(candidate, 'package.json'))) {
        if (seen.has(candidate)) return;
        seen.add(candidate);
        const manifest = JSON.parse(readFileSync(join(candidate, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
        for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dep, candidate);
        return;
      }
      if (dir === ROOT || dir === dirname(dir)) return;
      dir = dirname(dir);
    }
  };
  visit(name, ROOT);
  // Nested node_modules are counted where they are visited, not twice.
  return [...seen].reduce((sum, dir) => sum + bytesUnder(dir, () => true) - nestedBytes(dir), 0);
}
function nestedBytes(dir: string): number {
  const nested = join(dir, 'node_modules');
  return existsSync(nested) ? bytesUnder(nested) : 0;
}

async function main(): Promise<void> {
  const node = process.execPath;
  const wrkBin = process.env.WRK_BIN ?? which('wrk');
  const motoBin = process.env.MOTO_SERVER_BIN ?? join(ROOT, '.venv/bin/moto_server');
  if (!existsSync(join(ROOT, 'dist/server.js'))) throw new Error('dist/server.js is missing: run `npm run build` (make bench does)');
  // The builds run from private copies, as the image runs its own: a rebuild of dist/ during the run changes nothing.
  const work = mkdtempSync(join(tmpdir(), 'bench-'));
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));
  cpSync(join(ROOT, 'dist'), join(work, 'app/dist'), { recursive: true });
  const server = join(work, 'app/dist/server.js');
  if (COMPARE) cpSync(resolve(COMPARE, 'dist'), join(work, 'compare/dist'), { recursive: true });
  if (!existsSync(motoBin)) throw new Error(`${motoBin} is missing: run \`make tools\``);
  if (!SKIP_LOAD && !wrkBin) throw new Error('wrk is missing: `make bench` installs it (apt-get install -y wrk)');

  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    wrk: wrkBin ? spawnSync(wrkBin, ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0]?.trim() : undefined,
    loadAverageAtStart: loadavg().map((l) => round(l, 1)),
    date: new Date().toISOString(),
  };
  say(`==> machine: ${machine.cores} x ${machine.cpu}, node ${machine.node}, load average ${machine.loadAverageAtStart.join(' ')}`);

  say('==> peers: moto (Secrets Manager) and an OTLP/HTTP receiver');
  const moto = await startMoto(motoBin, SECRET_ID);
  const sink = await startOtlpSink();
  try {
    const fnEnv = (sampling: 'all' | 'ratio' | 'off'): Record<string, string> => ({
      ...imageEnv(),
      METRICS_PORT: '0',
      K_SERVICE: 'bench',
      K_REVISION: 'bench-00001',
      SECRETS: SECRET_ID,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.endpoint,
      AWS_ACCESS_KEY_ID: 'bench',
      AWS_SECRET_ACCESS_KEY: 'bench',
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
      OTEL_TRACES_SAMPLER: sampling === 'all' ? 'parentbased_always_on' : 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: sampling === 'ratio' ? '0.1' : '1',
      ...(sampling === 'off' ? { OTEL_TRACES_EXPORTER: 'none' } : {}),
    });
    const bareHttp: Variant = { id: 'bareHttp', label: 'bare node:http', args: [join(HERE, 'fixtures/bare-http.mjs')], env: {} };
    const bareFastify: Variant = { id: 'bareFastify', label: 'bare Fastify (unbundled)', args: [join(HERE, 'fixtures/bare-fastify.mjs')], env: {} };
    // As the image runs it: from the build's start-up snapshot when this Node made it (Dockerfile CMD).
    const fn = (id: string, label: string, sampling: 'all' | 'ratio' | 'off', dist = server): Variant => ({ id, label, args: serverArgs(dist, node), env: fnEnv(sampling), cwd: dirname(dirname(dist)) });
    const fnFull = fn('function', 'function (secrets, tracing 100 %, metrics)', 'all');
    const compare = COMPARE ? [fn('functionCompare', `function from ${COMPARE}`, 'all', join(work, 'compare/dist/server.js'))] : [];

    // --- cold start
    const coldVariants = [bareHttp, bareFastify, fnFull, ...compare];
    const cold: Record<string, { readyMs: number[]; rssBytes: number[] }> = {};
    for (const v of coldVariants) cold[v.id] = { readyMs: [], rssBytes: [] };
    say(`==> cold start: ${SPAWNS} spawns of each of ${coldVariants.length} variants, alternating (one unmeasured warm-up each)`);
    const t0 = Date.now();
    for (let i = -1; i < SPAWNS; i++) {
      // Rotate the order so that no variant always runs right after another.
      const order = coldVariants.map((_, k) => coldVariants[(k + Math.max(i, 0)) % coldVariants.length] as Variant);
      for (const v of order) {
        const r = await start(node, v);
        await r.stop();
        if (i >= 0) {
          cold[v.id]?.readyMs.push(r.readyMs);
          cold[v.id]?.rssBytes.push(r.rssBytes);
        }
      }
    }
    say(`    cold start: ${Math.round((Date.now() - t0) / 1000)} s`);
    const coldBase = median(cold.bareFastify?.readyMs ?? []);
    const rssBase = median(cold.bareFastify?.rssBytes ?? []);
    const coldStart = Object.fromEntries(
      coldVariants.map((v) => {
        const c = cold[v.id] ?? { readyMs: [], rssBytes: [] };
        const m = median(c.readyMs);
        const rss = median(c.rssBytes);
        return [
          v.id,
          {
            label: v.label,
            spawns: c.readyMs.length,
            medianMs: round(m, 1),
            p90Ms: round(quantile(c.readyMs, 0.9), 1),
            ratio: round(m / coldBase),
            rssMiB: round(rss / 2 ** 20, 1),
            rssRatio: round(rss / rssBase),
            samplesMs: c.readyMs.map((x) => round(x, 1)),
          },
        ];
      }),
    );

    // --- load
    let load: Record<string, unknown> | undefined;
    let latency: Record<string, unknown> | undefined;
    if (!SKIP_LOAD) {
      const loadVariants = [
        { ...bareFastify },
        fn('tracing100', 'function, tracing 100 %', 'all'),
        fn('tracing10', 'function, tracing 10 % (parentbased_traceidratio)', 'ratio'),
        fn('tracingOff', 'function, tracing off', 'off'),
        ...compare.map((c) => ({ ...c, id: 'functionCompare' })),
      ];
      const runs: Record<string, Array<LoadResult & { cpuUsPerRequest: number }>> = Object.fromEntries(loadVariants.map((v) => [v.id, []]));
      say(`==> load: wrk -t1 -c${CONNECTIONS}, ${ROUNDS} x ${SECONDS} s per variant (after 2 s of warm-up), alternating`);
      const sink0 = sink.stats();
      for (let r = 0; r < ROUNDS; r++) {
        for (const v of r % 2 === 0 ? loadVariants : [...loadVariants].reverse()) {
          const s = await start(node, v);
          try {
            await wrk(wrkBin, HERE, { port: s.port, connections: CONNECTIONS, seconds: 2 });
            // CPU time per request is the figure other processes on the machine disturb least.
            const cpu0 = cpuMs(s.child.pid ?? 0);
            const measured = await wrk(wrkBin, HERE, { port: s.port, connections: CONNECTIONS, seconds: SECONDS });
            const result = { ...measured, cpuUsPerRequest: ((cpuMs(s.child.pid ?? 0) - cpu0) * 1000) / Math.max(1, measured.requests) };
            runs[v.id]?.push(result);
            say(`    ${v.label}: ${Math.round(result.rps)} req/s, ${Math.round(result.cpuUsPerRequest)} us CPU/request, p99 ${result.p99Ms.toFixed(2)} ms${result.errors + result.non2xx ? `, ${result.errors} errors, ${result.non2xx} non-2xx` : ''}`);
          } finally {
            await s.stop();
          }
        }
      }
      const spans = sink.stats();
      const rpsBase = median((runs.bareFastify ?? []).map((x) => x.rps));
      const p99Base = median((runs.bareFastify ?? []).map((x) => x.p99Ms));
      const cpuBase = median((runs.bareFastify ?? []).map((x) => x.cpuUsPerRequest));
      load = Object.fromEntries(
        loadVariants.map((v) => {
          const rs = runs[v.id] ?? [];
          const rps = median(rs.map((x) => x.rps));
          const p99 = median(rs.map((x) => x.p99Ms));
          return [
            v.id,
            {
              label: v.label,
              rps: Math.round(rps),
              rpsRuns: rs.map((x) => Math.round(x.rps)),
              ratio: round(rps / rpsBase),
              p50Ms: round(median(rs.map((x) => x.p50Ms)), 3),
              p99Ms: round(p99, 3),
              p99Ratio: round(p99 / p99Base),
              cpuUsPerRequest: Math.round(median(rs.map((x) => x.cpuUsPerRequest))),
              cpuRatio: round(median(rs.map((x) => x.cpuUsPerRequest)) / cpuBase),
              errors: rs.reduce((n, x) => n + x.errors + x.non2xx, 0),
            },
          ];
        }),
      );
      load.otlpReceived = { exports: spans.exports - sink0.exports, bytes: spans.bytes - sink0.bytes };

      // --- latency at a fixed offered rate: half of bare Fastify's max
      const rate = Math.round(rpsBase / 2);
      say(`==> latency at ${rate} req/s offered (half of bare Fastify's ${Math.round(rpsBase)}), ${SECONDS} s per variant`);
      const fixed: Record<string, LoadResult> = {};
      for (const v of loadVariants) {
        const s = await start(node, v);
        try {
          // wrk paces each connection with a fixed pause after each response, so the achieved rate falls short by
          // the latency: a 2 s calibration run at the wanted rate gives the correction for the measured run.
          const probe = await wrk(wrkBin, HERE, { port: s.port, connections: CONNECTIONS, seconds: 2, rate });
          const paced = rate * Math.min(3, Math.max(1, rate / Math.max(1, probe.rps)));
          fixed[v.id] = await wrk(wrkBin, HERE, { port: s.port, connections: CONNECTIONS, seconds: SECONDS, rate: paced });
          say(`    ${v.label}: p99 ${fixed[v.id]?.p99Ms.toFixed(2)} ms at ${Math.round(fixed[v.id]?.rps ?? 0)} req/s achieved`);
        } finally {
          await s.stop();
        }
      }
      const base = fixed.bareFastify?.p99Ms ?? NaN;
      latency = {
        offeredRps: rate,
        ...Object.fromEntries(
          loadVariants.map((v) => {
            const f = fixed[v.id] as LoadResult;
            return [v.id, { label: v.label, achievedRps: Math.round(f.rps), p50Ms: round(f.p50Ms, 3), p99Ms: round(f.p99Ms, 3), p99Ratio: round(f.p99Ms / base) }];
          }),
        ),
      };
    }

    // --- what the tracing set-up costs to load (unbundled, from node_modules): why the function does not use NodeSDK
    const imports: Record<string, string[]> = {
      nodeAlone: [],
      sdkNode: ['@opentelemetry/sdk-node'],
      sdkTraceOtlpProto: ['@opentelemetry/sdk-trace', '@opentelemetry/context-async-hooks', '@opentelemetry/resources', '@opentelemetry/exporter-trace-otlp-proto'],
    };
    const importMs: Record<string, number[]> = Object.fromEntries(Object.keys(imports).map((k) => [k, []]));
    const IMPORT_SPAWNS = Math.max(3, Math.ceil(SPAWNS / 2));
    say(`==> module load cost: ${IMPORT_SPAWNS} processes each, alternating`);
    for (let i = 0; i < IMPORT_SPAWNS; i++) {
      for (const [id, mods] of Object.entries(imports)) {
        const code = mods.map((m) => `await import(${JSON.stringify(m)});`).join('');
        const t = performance.now();
        const r = spawnSync(node, ['--input-type=module', '-e', code], { cwd: ROOT, stdio: 'ignore' });
        if (r.status !== 0) throw new Error(`importing ${mods.join(', ')} failed`);
        importMs[id]?.push(performance.now() - t);
      }
    }
    const alone = median(importMs.nodeAlone ?? []);
    const moduleLoad = Object.fromEntries(
      Object.entries(imports).map(([id, mods]) => [id, { modules: mods, processMedianMs: round(median(importMs[id] ?? []), 1), loadMs: round(median(importMs[id] ?? []) - alone, 1) }]),
    );

    // --- payload
    const distBytes = bytesUnder(join(work, 'app/dist'));
    const distJsBytes = bytesUnder(join(work, 'app/dist'), (n) => n.endsWith('.js'));
    const fastifyBytes = packageClosureBytes('fastify');
    const payload = {
      distBytes,
      distJsBytes,
      bareFastifyNodeModulesBytes: fastifyBytes,
      ratio: round(distBytes / fastifyBytes),
    };

    const l = load as Record<string, { ratio: number }> | undefined;
    const lat = latency as Record<string, { p99Ratio: number }> | undefined;
    const target = (name: string, value: number | undefined, op: '<=' | '>=', limit: number) => ({
      name,
      value,
      target: `${op} ${limit}`,
      holds: value === undefined || Number.isNaN(value) ? null : op === '<=' ? value <= limit : value >= limit,
    });
    const targets = [
      target('cold start ratio', coldStart.function?.ratio, '<=', 1.0),
      target('RSS at ready ratio', coldStart.function?.rssRatio, '<=', 1.2),
      target('throughput ratio, 10 % sampling', l?.tracing10?.ratio, '>=', 0.8),
      target('throughput ratio, 100 % sampling', l?.tracing100?.ratio, '>=', 0.5),
      target('p99 ratio at half of bare max rate, 100 % sampling', lat?.tracing100?.p99Ratio, '<=', 2),
      target('p99 ratio at half of bare max rate, 10 % sampling', lat?.tracing10?.p99Ratio, '<=', 2),
    ];
    const results = {
      machine: { ...machine, loadAverageAtEnd: loadavg().map((x) => round(x, 1)) },
      settings: { spawns: SPAWNS, seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, imageEnv: imageEnv() },
      coldStart,
      load,
      latencyAtHalfBareMaxRate: latency,
      moduleLoad,
      payload,
      targets,
    };
    writeFileSync(OUT, `${JSON.stringify(results, null, 2)}\n`);
    print(results);
    say(`\nwrote ${OUT}`);
  } finally {
    moto.stop();
    await sink.stop();
  }
}

function print(r: {
  coldStart: Record<string, { label: string; medianMs: number; p90Ms: number; ratio: number; rssMiB: number; rssRatio: number }>;
  load?: Record<string, unknown>;
  latencyAtHalfBareMaxRate?: Record<string, unknown>;
  payload: { distBytes: number; distJsBytes: number; bareFastifyNodeModulesBytes: number; ratio: number };
  moduleLoad: Record<string, { modules: string[]; loadMs: number }>;
  targets: Array<{ name: string; value: number | undefined; target: string; holds: boolean | null }>;
}): void {
  const out: string[] = ['', '| cold start | median | p90 | ratio | RSS at ready | RSS ratio |', '|---|---|---|---|---|---|'];
  for (const c of Object.values(r.coldStart)) out.push(`| ${c.label} | ${c.medianMs} ms | ${c.p90Ms} ms | ${c.ratio}x | ${c.rssMiB} MiB | ${c.rssRatio}x |`);
  if (r.load && r.latencyAtHalfBareMaxRate) {
    const lat = r.latencyAtHalfBareMaxRate as Record<string, { p99Ms: number; p99Ratio: number; achievedRps: number }> & { offeredRps: number };
    out.push('', `| load (wrk -c${CONNECTIONS}) | req/s | ratio | CPU/request | CPU ratio | p50 | p99 | p99 at ${lat.offeredRps} req/s | p99 ratio |`, '|---|---|---|---|---|---|---|---|---|');
    for (const [id, v] of Object.entries(r.load)) {
      if (id === 'otlpReceived') continue;
      const x = v as { label: string; rps: number; ratio: number; p50Ms: number; p99Ms: number; cpuUsPerRequest: number; cpuRatio: number };
      const f = lat[id];
      out.push(`| ${x.label} | ${x.rps} | ${x.ratio}x | ${x.cpuUsPerRequest} us | ${x.cpuRatio}x | ${x.p50Ms} ms | ${x.p99Ms} ms | ${f?.p99Ms} ms | ${f?.p99Ratio}x |`);
    }
  }
  out.push('', '| module load (unbundled, beyond an empty node) | ms |', '|---|---|');
  for (const m of Object.values(r.moduleLoad)) if (m.modules.length) out.push(`| ${m.modules.join(' + ')} | ${m.loadMs} |`);
  const p = r.payload;
  out.push('', `payload: dist/ ${p.distBytes} bytes (${p.distJsBytes} of JavaScript), bare Fastify's node_modules closure ${p.bareFastifyNodeModulesBytes} bytes (${p.ratio}x)`);
  out.push('', '| target | value | wanted | holds |', '|---|---|---|---|');
  for (const t of r.targets) out.push(`| ${t.name} | ${t.value ?? '-'} | ${t.target} | ${t.holds === null ? '-' : t.holds ? 'yes' : 'NO'} |`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((err: unknown) => {
  say(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
