#!/usr/bin/env node
/**
 * `make bench`: the function against bare Fastify (and bare node:http) on this machine, in one run, alternating
 * between variants so that load from other processes falls on all of them alike. Figures are reported as ratios to
 * bare Fastify; nothing here fails on timing (only on a variant that does not start or answers errors).
 *
 *   cold start   spawn -> first 200 on GET <path>, RSS at that moment; the function fully configured: secrets from moto,
 *                traces exported to a local OTLP receiver, metrics on
 *   load         wrk at fixed concurrency: req/s, p50/p99; the function with tracing at 100 %, 10 % and off
 *   latency      wrk at half of bare Fastify's max rate: p99 of each variant
 *   payload      bytes of dist/ (what the image's runtime stage copies) vs bare Fastify's node_modules closure
 *
 * The function is a built bundle: --dist DIR (BENCH_DIST, default dist/: what `make build` made from FUNCTION),
 * requested at --path P (BENCH_PATH, default /; a GET answered 200). Bare Fastify and node:http answer GET /.
 *
 * Noise: the machine's load is sampled every second over the run (load average, busy and stolen CPU, CPU used by
 * processes outside the benchmark) and written with the results. A ratio is printed only when both of its variants'
 * coefficients of variation (across cold-start spawns, or across load rounds) are within --max-cv (0.15); otherwise
 * it is withheld ("noisy") and the target it decides is reported as undecided.
 *
 * Options: --spawns N (15) --seconds S (8) --rounds R (3) --connections C (50) --out FILE (bench-results.json)
 *          --dist DIR --path P --max-cv X
 *          --compare DIR (also cold-start/load the build in DIR/dist, e.g. an older commit's) --skip-load
 * Environment: WRK_BIN, MOTO_SERVER_BIN override the tools' paths; BENCH_DIST, BENCH_PATH as above.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wrk, type LoadResult } from './lib/load.ts';
import { cv, noisyRatio, startLoadMonitor } from './lib/machine.ts';
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
const ROUNDS = Number(option('rounds', '3'));
const CONNECTIONS = Number(option('connections', '50'));
const OUT = resolve(ROOT, option('out', 'bench-results.json'));
const COMPARE = option('compare', '');
const SKIP_LOAD = process.argv.includes('--skip-load');
const DIST = resolve(ROOT, option('dist', process.env.BENCH_DIST || 'dist'));
const PATH = option('path', process.env.BENCH_PATH || '/');
const MAX_CV = Number(option('max-cv', '0.15'));
if (!PATH.startsWith('/')) throw new Error(`--path must start with / (got ${PATH})`);
if (!(MAX_CV > 0)) throw new Error(`--max-cv must be a positive number (got ${MAX_CV})`);

/** A ratio of two variants' figures, or null with the reason when either one is noisier than MAX_CV. */
const ratioOf = (value: number, base: number, cvValue: number, cvBase: number) => noisyRatio(value, base, cvValue, cvBase, MAX_CV);

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
  if (!existsSync(join(DIST, 'server.js'))) throw new Error(`${join(DIST, 'server.js')} is missing: run \`npm run build\` (make bench does)`);
  // The builds run from private copies, as the image runs its own: a rebuild of dist/ during the run changes nothing.
  const work = mkdtempSync(join(tmpdir(), 'bench-'));
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));
  cpSync(DIST, join(work, 'app/dist'), { recursive: true });
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
  say(`==> function: ${DIST}, GET ${PATH}; ratios withheld when a variant's coefficient of variation exceeds ${Math.round(MAX_CV * 100)} %`);
  const monitor = startLoadMonitor();
  const phases: Record<string, [number, number]> = {};

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
    const fn = (id: string, label: string, sampling: 'all' | 'ratio' | 'off', dist = server): Variant => ({ id, label, args: serverArgs(dist, node), env: fnEnv(sampling), cwd: dirname(dirname(dist)), path: PATH });
    const fnFull = fn('function', 'function (secrets, tracing 100 %, metrics)', 'all');
    const compare = COMPARE ? [fn('functionCompare', `function from ${COMPARE}`, 'all', join(work, 'compare/dist/server.js'))] : [];

    // --- cold start
    const coldVariants = [bareHttp, bareFastify, fnFull, ...compare];
    const cold: Record<string, { readyMs: number[]; rssBytes: number[] }> = {};
    for (const v of coldVariants) cold[v.id] = { readyMs: [], rssBytes: [] };
    say(`==> cold start: ${SPAWNS} spawns of each of ${coldVariants.length} variants, alternating (one unmeasured warm-up each)`);
    const t0 = Date.now();
    const coldFrom = monitor.now();
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
    phases.coldStart = [coldFrom, monitor.now()];
    const coldBase = median(cold.bareFastify?.readyMs ?? []);
    const rssBase = median(cold.bareFastify?.rssBytes ?? []);
    const coldCvBase = cv(cold.bareFastify?.readyMs ?? []);
    const rssCvBase = cv(cold.bareFastify?.rssBytes ?? []);
    const coldStart = Object.fromEntries(
      coldVariants.map((v) => {
        const c = cold[v.id] ?? { readyMs: [], rssBytes: [] };
        const m = median(c.readyMs);
        const rss = median(c.rssBytes);
        const timeCv = cv(c.readyMs);
        const rssCv = cv(c.rssBytes);
        const ratio = ratioOf(m, coldBase, timeCv, coldCvBase);
        const rssRatio = ratioOf(rss, rssBase, rssCv, rssCvBase);
        return [
          v.id,
          {
            label: v.label,
            spawns: c.readyMs.length,
            medianMs: round(m, 1),
            p90Ms: round(quantile(c.readyMs, 0.9), 1),
            cv: round(timeCv, 3),
            ratio: ratio.ratio,
            ...(ratio.withheld ? { ratioWithheld: ratio.withheld } : {}),
            rssMiB: round(rss / 2 ** 20, 1),
            rssCv: round(rssCv, 3),
            rssRatio: rssRatio.ratio,
            ...(rssRatio.withheld ? { rssRatioWithheld: rssRatio.withheld } : {}),
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
      const loadFrom = monitor.now();
      for (let r = 0; r < ROUNDS; r++) {
        for (const v of r % 2 === 0 ? loadVariants : [...loadVariants].reverse()) {
          const s = await start(node, v);
          try {
            await wrk(wrkBin, HERE, { port: s.port, connections: CONNECTIONS, seconds: 2, path: v.path });
            // CPU time per request is the figure other processes on the machine disturb least.
            const cpu0 = cpuMs(s.child.pid ?? 0);
            const measured = await wrk(wrkBin, HERE, { port: s.port, connections: CONNECTIONS, seconds: SECONDS, path: v.path });
            const result = { ...measured, cpuUsPerRequest: ((cpuMs(s.child.pid ?? 0) - cpu0) * 1000) / Math.max(1, measured.requests) };
            runs[v.id]?.push(result);
            say(`    ${v.label}: ${Math.round(result.rps)} req/s, ${Math.round(result.cpuUsPerRequest)} us CPU/request, p99 ${result.p99Ms.toFixed(2)} ms${result.errors + result.non2xx ? `, ${result.errors} errors, ${result.non2xx} non-2xx` : ''}`);
          } finally {
            await s.stop();
          }
        }
      }
      phases.load = [loadFrom, monitor.now()];
      const spans = sink.stats();
      const baseRuns = runs.bareFastify ?? [];
      const rpsBase = median(baseRuns.map((x) => x.rps));
      const p99Base = median(baseRuns.map((x) => x.p99Ms));
      const cpuBase = median(baseRuns.map((x) => x.cpuUsPerRequest));
      const baseCv = { rps: cv(baseRuns.map((x) => x.rps)), p99: cv(baseRuns.map((x) => x.p99Ms)), cpu: cv(baseRuns.map((x) => x.cpuUsPerRequest)) };
      load = Object.fromEntries(
        loadVariants.map((v) => {
          const rs = runs[v.id] ?? [];
          const rps = median(rs.map((x) => x.rps));
          const p99 = median(rs.map((x) => x.p99Ms));
          const cpu = median(rs.map((x) => x.cpuUsPerRequest));
          const c = { rps: cv(rs.map((x) => x.rps)), p99: cv(rs.map((x) => x.p99Ms)), cpu: cv(rs.map((x) => x.cpuUsPerRequest)) };
          const ratio = ratioOf(rps, rpsBase, c.rps, baseCv.rps);
          const p99Ratio = ratioOf(p99, p99Base, c.p99, baseCv.p99);
          const cpuRatio = ratioOf(cpu, cpuBase, c.cpu, baseCv.cpu);
          return [
            v.id,
            {
              label: v.label,
              rps: Math.round(rps),
              rpsRuns: rs.map((x) => Math.round(x.rps)),
              rpsCv: round(c.rps, 3),
              ratio: ratio.ratio,
              ...(ratio.withheld ? { ratioWithheld: ratio.withheld } : {}),
              p50Ms: round(median(rs.map((x) => x.p50Ms)), 3),
              p99Ms: round(p99, 3),
              p99Cv: round(c.p99, 3),
              p99Ratio: p99Ratio.ratio,
              ...(p99Ratio.withheld ? { p99RatioWithheld: p99Ratio.withheld } : {}),
              cpuUsPerRequest: round(cpu, 1),
              cpuUsRuns: rs.map((x) => round(x.cpuUsPerRequest, 1)),
              cpuCv: round(c.cpu, 3),
              cpuRatio: cpuRatio.ratio,
              ...(cpuRatio.withheld ? { cpuRatioWithheld: cpuRatio.withheld } : {}),
              errors: rs.reduce((n, x) => n + x.errors + x.non2xx, 0),
            },
          ];
        }),
      );
      load.otlpReceived = { exports: spans.exports - sink0.exports, bytes: spans.bytes - sink0.bytes };

      // --- latency at a fixed offered rate: half of bare Fastify's max
      const rate = Math.round(rpsBase / 2);
      say(`==> latency at ${rate} req/s offered (half of bare Fastify's ${Math.round(rpsBase)}), ${ROUNDS} x ${SECONDS} s per variant, alternating`);
      const fixed: Record<string, LoadResult[]> = Object.fromEntries(loadVariants.map((v) => [v.id, []]));
      const latencyFrom = monitor.now();
      for (let r = 0; r < ROUNDS; r++) {
        for (const v of r % 2 === 0 ? loadVariants : [...loadVariants].reverse()) {
          const s = await start(node, v);
          try {
            // wrk paces each connection with a fixed pause after each response, so the achieved rate falls short by
            // the latency: a 2 s calibration run at the wanted rate gives the correction for the measured run.
            const probe = await wrk(wrkBin, HERE, { port: s.port, connections: CONNECTIONS, seconds: 2, rate, path: v.path });
            const paced = rate * Math.min(3, Math.max(1, rate / Math.max(1, probe.rps)));
            const f = await wrk(wrkBin, HERE, { port: s.port, connections: CONNECTIONS, seconds: SECONDS, rate: paced, path: v.path });
            fixed[v.id]?.push(f);
            say(`    ${v.label}: p99 ${f.p99Ms.toFixed(2)} ms at ${Math.round(f.rps)} req/s achieved`);
          } finally {
            await s.stop();
          }
        }
      }
      phases.latency = [latencyFrom, monitor.now()];
      const p99s = (id: string) => (fixed[id] ?? []).map((f) => f.p99Ms);
      const base = median(p99s('bareFastify'));
      latency = {
        offeredRps: rate,
        ...Object.fromEntries(
          loadVariants.map((v) => {
            const fs = fixed[v.id] ?? [];
            const p99 = median(p99s(v.id));
            const p99Ratio = ratioOf(p99, base, cv(p99s(v.id)), cv(p99s('bareFastify')));
            return [
              v.id,
              {
                label: v.label,
                achievedRps: Math.round(median(fs.map((f) => f.rps))),
                p50Ms: round(median(fs.map((f) => f.p50Ms)), 3),
                p99Ms: round(p99, 3),
                p99Runs: p99s(v.id).map((x) => round(x, 3)),
                p99Cv: round(cv(p99s(v.id)), 3),
                p99Ratio: p99Ratio.ratio,
                ...(p99Ratio.withheld ? { p99RatioWithheld: p99Ratio.withheld } : {}),
              },
            ];
          }),
        ),
      };
    }

    // --- what the tracing set-up costs to load (unbundled, from node_modules): NodeSDK against the SDK's pieces
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

    type Figure = Record<string, unknown>;
    const l = load as Record<string, Figure> | undefined;
    const lat = latency as Record<string, Figure> | undefined;
    const cs = coldStart as unknown as Record<string, Figure>;
    /** A target on a figure; `why` names the field that says why a ratio was withheld. */
    const target = (name: string, figure: Figure | undefined, field: string, op: '<=' | '>=', limit: number) => {
      const value = figure?.[field];
      const withheld = figure?.[`${field}Withheld`];
      return {
        name,
        value: typeof value === 'number' ? value : null,
        target: `${op} ${limit}`,
        holds: typeof value !== 'number' || Number.isNaN(value) ? null : op === '<=' ? value <= limit : value >= limit,
        ...(withheld ? { undecided: `ratio withheld: ${withheld}` } : {}),
      };
    };
    const targets = [
      target('cold start ratio', cs.function, 'ratio', '<=', 1.0),
      target('RSS at ready ratio', cs.function, 'rssRatio', '<=', 1.2),
      target('throughput ratio, 10 % sampling', l?.tracing10, 'ratio', '>=', 0.8),
      target('throughput ratio, 100 % sampling', l?.tracing100, 'ratio', '>=', 0.5),
      target('throughput ratio, tracing off', l?.tracingOff, 'ratio', '>=', 0.9),
      target('CPU per request (us), 10 % sampling', l?.tracing10, 'cpuUsPerRequest', '<=', 15),
      target('p99 ratio at half of bare max rate, 100 % sampling', lat?.tracing100, 'p99Ratio', '<=', 2),
      target('p99 ratio at half of bare max rate, 10 % sampling', lat?.tracing10, 'p99Ratio', '<=', 2),
    ];
    const machineLoad = {
      note: 'sampled every second over the run; otherCores: CPU used outside this benchmark (its servers, wrk and moto excluded)',
      wholeRun: monitor.stop(),
      ...Object.fromEntries(Object.entries(phases).map(([k, [from, to]]) => [k, monitor.summary(from, to)])),
    };
    const results = {
      machine: { ...machine, loadAverageAtEnd: loadavg().map((x) => round(x, 1)) },
      machineLoad,
      noise: {
        maxCv: MAX_CV,
        rule: `a ratio is withheld (null, with the reason) when either variant's coefficient of variation exceeds ${MAX_CV}: across ${SPAWNS} spawns for cold start and RSS, across ${ROUNDS} rounds for req/s, CPU per request and p99`,
      },
      settings: { dist: DIST, path: PATH, spawns: SPAWNS, seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, maxCv: MAX_CV, imageEnv: imageEnv() },
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

type Row = Record<string, unknown>;

/** A ratio as printed: the figure, or why it was withheld. */
function shown(row: Row | undefined, field: string): string {
  const v = row?.[field];
  if (typeof v === 'number') return `${v}x`;
  const why = row?.[`${field}Withheld`];
  return why ? `noisy (${String(why)})` : '-';
}
const pct = (x: unknown) => (typeof x === 'number' && !Number.isNaN(x) ? `${Math.round(x * 100)} %` : '-');

function print(r: {
  coldStart: Record<string, Row>;
  load?: Record<string, unknown>;
  latencyAtHalfBareMaxRate?: Record<string, unknown>;
  payload: { distBytes: number; distJsBytes: number; bareFastifyNodeModulesBytes: number; ratio: number };
  moduleLoad: Record<string, { modules: string[]; loadMs: number }>;
  machineLoad: { wholeRun: { loadAverage1m: { min: number; median: number; max: number }; otherCores: { median: number; max: number }; stealCores: { median: number; max: number }; cores: number } };
  noise: { maxCv: number; rule: string };
  targets: Array<{ name: string; value: number | null; target: string; holds: boolean | null; undecided?: string }>;
}): void {
  const m = r.machineLoad.wholeRun;
  const out: string[] = [
    '',
    `machine load over the run: load average ${m.loadAverage1m.min}-${m.loadAverage1m.max} (median ${m.loadAverage1m.median}) on ${m.cores} cores; ` +
      `other processes' CPU median ${m.otherCores.median}, max ${m.otherCores.max} cores; stolen median ${m.stealCores.median}, max ${m.stealCores.max} cores`,
    `noise bound: ${r.noise.rule}`,
  ];
  out.push('', '| cold start | median | p90 | CV | ratio | RSS at ready | RSS ratio |', '|---|---|---|---|---|---|---|');
  for (const c of Object.values(r.coldStart)) out.push(`| ${String(c.label)} | ${String(c.medianMs)} ms | ${String(c.p90Ms)} ms | ${pct(c.cv)} | ${shown(c, 'ratio')} | ${String(c.rssMiB)} MiB | ${shown(c, 'rssRatio')} |`);
  if (r.load && r.latencyAtHalfBareMaxRate) {
    const lat = r.latencyAtHalfBareMaxRate as Record<string, Row> & { offeredRps: number };
    out.push(
      '',
      `| load (wrk -c${CONNECTIONS}) | req/s | CV | ratio | CPU/request | CV | CPU ratio | p50 | p99 | p99 at ${lat.offeredRps} req/s | CV | p99 ratio |`,
      '|---|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const [id, v] of Object.entries(r.load)) {
      if (id === 'otlpReceived') continue;
      const x = v as Row;
      const f = lat[id];
      out.push(
        `| ${String(x.label)} | ${String(x.rps)} | ${pct(x.rpsCv)} | ${shown(x, 'ratio')} | ${String(x.cpuUsPerRequest)} us | ${pct(x.cpuCv)} | ${shown(x, 'cpuRatio')} | ${String(x.p50Ms)} ms | ${String(x.p99Ms)} ms | ${String(f?.p99Ms)} ms | ${pct(f?.p99Cv)} | ${shown(f, 'p99Ratio')} |`,
      );
    }
  }
  out.push('', '| module load (unbundled, beyond an empty node) | ms |', '|---|---|');
  for (const mod of Object.values(r.moduleLoad)) if (mod.modules.length) out.push(`| ${mod.modules.join(' + ')} | ${mod.loadMs} |`);
  const p = r.payload;
  out.push('', `payload: dist/ ${p.distBytes} bytes (${p.distJsBytes} of JavaScript), bare Fastify's node_modules closure ${p.bareFastifyNodeModulesBytes} bytes (${p.ratio}x)`);
  out.push('', '| target | value | wanted | holds |', '|---|---|---|---|');
  for (const t of r.targets) out.push(`| ${t.name} | ${t.value ?? '-'} | ${t.target} | ${t.holds === null ? (t.undecided ?? '-') : t.holds ? 'yes' : 'NO'} |`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((err: unknown) => {
  say(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
