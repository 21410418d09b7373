#!/usr/bin/env node
/**
 * Where a request's CPU goes: runs a built function under Node's own sampling profiler (--cpu-prof) while wrk loads
 * it, then prints the time per request of every function that ran, inclusive (callees counted) and self, mapped back
 * to the TypeScript/JavaScript source through the bundle's source maps. The per-request cost table in
 * docs/performance.md comes from here.
 *
 *   node scripts/bench/profile.ts [--dist dist] [--path /] [--sampling off|ratio|all] [--seconds 8]
 *                                 [--connections 50] [--top 40] [--interval-us 250] [--match function/src]
 *                                 [--script scripts/bench/fixtures/bare-fastify.mjs]   (another server instead)
 *
 * Tracing: off = OTEL_TRACES_EXPORTER=none; ratio = parentbased_traceidratio 0.1; all = parentbased_always_on (both
 * exporting over OTLP/HTTP to a local receiver). No secrets are read (the request path does not depend on them).
 * Figures include the profiler's own overhead (a sample every --interval-us): compare rows of one run, or runs made
 * the same way, not with `make bench`'s unprofiled CPU per request.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { wrk } from './lib/load.ts';
import { startOtlpSink } from './lib/peers.ts';
import { cpuMs, start } from './lib/proc.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = resolve(HERE, '../..');

interface Frame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: Frame;
  children?: number[];
}
interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * The cost table's rows: each charged entry (see analyse) goes to the first item whose pattern matches it. The
 * runtime's frames are named by source file and callee, so a table survives line numbers moving between builds.
 */
export const ITEMS: Array<[string, RegExp]> = [
  ['span: tracer.startSpan (ids, sampler, span object)', /observe\.ts:\d+ -> startSpan /],
  ['span: end', /observe\.ts:\d+ -> end node_modules\/@opentelemetry/],
  ['context: context.with (onRequest, handler)', /-> with node_modules\/@opentelemetry\/api/],
  ['context: trace.setSpan, propagation.extract', /-> (setSpan|extract) node_modules\/@opentelemetry\/api/],
  ['access line: pino (serialise, time, write)', /(logAccess .* -> LOG |isoTime )/],
  ['access line: fields', /^logAccess function\/src\/plugins\/observe\.ts:\d+$/],
  ['histogram observation (label set lookup)', /-> observeWithoutExemplar /],
  ['active-requests gauge', /-> (inc|dec) node_modules\/prom-client\/lib\/gauge/],
  ['security headers: the hook (raw setHeader before; onSend check after)', /security\.ts:\d+/],
  ['reply.header(): the security headers (after), traceresponse, content-type', /^fastify: Reply\.headers? /],
  ['@fastify/helmet hooks (reply.helmet decorator)', /@fastify\/helmet/],
  ['writeHead: every header checked and serialised', /safeWriteHead .*-> writeHead /],
  ['request id (randomUUID)', /genReqId /],
  ['observe hooks: the rest (attributes, traceresponse, close listener, first-request check)', /plugins\/observe\.ts/],
  ['OTLP export (batch processor, protobuf)', /telemetry\.ts.*/],
  ['response write (socket write(2), kernel)', /writePayload .* -> end node:_http_outgoing/],
  ['Fastify: routing, hooks, validation, serialisation, reply', /^fastify: /],
  ['Node: HTTP parser, events, timers, GC, the rest', /^other /],
  ['other runtime code', /./],
];

const maps = new Map<string, SourceMap | null>();
function sourceMap(url: string): SourceMap | null {
  if (!maps.has(url)) {
    let map: SourceMap | null = null;
    try {
      const file = fileURLToPath(url);
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
    } catch {
      // not a bundle chunk (node internals, the profiler's pseudo-frames)
    }
    maps.set(url, map);
  }
  return maps.get(url) ?? null;
}

/** "name source:line", the source as the bundle's source map names it (node_modules/..., function/src/...). */
function label(f: Frame): string {
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  const map = sourceMap(f.url);
  const entry = map?.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
  if (entry?.originalSource) {
    const source = entry.originalSource.replace(/^.*?(node_modules\/|function\/src\/)/, '$1');
    return `${name} ${source}:${(entry.originalLine ?? 0) + 1}`;
  }
  return `${name} ${f.url.startsWith('node:') ? f.url : basename(f.url)}:${f.lineNumber + 1}`;
}

/** Code of ours (the runtime) and the framework's own frames: a sample is charged to the nearest one on its stack. */
const OWNER = /(function\/src\/|node_modules\/fastify\/)/;

export function analyse(profile: Profile, window: [number, number] = [0, Infinity]): {
  totalUs: number;
  inclusive: Map<string, number>;
  self: Map<string, number>;
  owned: Map<string, number>;
} {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const labels = new Map(profile.nodes.map((n) => [n.id, label(n.callFrame)]));
  const inclusive = new Map<string, number>();
  const self = new Map<string, number>();
  // Fastify's hooks pass the rest of the request on through `next`: a hook's inclusive time holds the response write.
  // `owned` charges each sample to the nearest frame of the runtime or of Fastify on its stack, split by the callee
  // the runtime's frame called ("finish -> observe prom-client/..."): what a hook costs by itself.
  const owned = new Map<string, number>();
  let totalUs = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    // Only the samples taken under load (start-up and drain left out).
    if (at < window[0] || at > window[1]) return;
    const dt = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
    totalUs += dt;
    const leaf = labels.get(id) ?? '?';
    self.set(leaf, (self.get(leaf) ?? 0) + dt);
    let below: string | undefined;
    let owner: string | undefined;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = labels.get(cur) ?? '?';
      if (OWNER.test(l)) {
        owner = `${l.includes('function/src/') ? '' : 'fastify: '}${l}${below && below !== l ? ` -> ${below}` : ''}`;
        break;
      }
      below = l;
    }
    owner ??= 'other (node, no runtime or Fastify frame)';
    owned.set(owner, (owned.get(owner) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = labels.get(cur) ?? '?';
      if (seen.has(l) || byId.get(cur)?.callFrame.functionName === '(root)') continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + dt);
    }
  });
  return { totalUs, inclusive, self, owned };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dist: { type: 'string', default: 'dist' },
      path: { type: 'string', default: process.env.BENCH_PATH ?? '/' },
      sampling: { type: 'string', default: 'ratio' },
      seconds: { type: 'string', default: '8' },
      connections: { type: 'string', default: '50' },
      top: { type: 'string', default: '40' },
      'interval-us': { type: 'string', default: '250' },
      match: { type: 'string', default: '' },
      script: { type: 'string' },
    },
  });
  const sampling = values.sampling as 'off' | 'ratio' | 'all';
  if (!['off', 'ratio', 'all'].includes(sampling)) throw new Error('--sampling is off, ratio or all');
  const dist = resolve(ROOT, values.dist);
  const dir = mkdtempSync(join(tmpdir(), 'profile-'));
  const sink = await startOtlpSink();
  try {
    const env: Record<string, string> = {
      NODE_ENV: 'production',
      METRICS_PORT: '0',
      K_SERVICE: 'bench',
      K_REVISION: 'bench-00001',
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
      OTEL_TRACES_SAMPLER: sampling === 'all' ? 'parentbased_always_on' : 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: sampling === 'ratio' ? '0.1' : '1',
      ...(sampling === 'off' ? { OTEL_TRACES_EXPORTER: 'none' } : {}),
    };
    // A fixture has no SIGTERM handler, and a process killed by a signal writes no profile.
    const onTerm = values.script ? ['--import', "data:text/javascript,process.on('SIGTERM',()=>process.exit(0))"] : [];
    const args = [...onTerm, '--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${values['interval-us']}`, values.script ? resolve(ROOT, values.script) : join(dist, 'server.js')];
    const s = await start(process.execPath, { id: 'profiled', label: `function (${sampling})`, args, env, path: values.path });
    const seconds = Number(values.seconds);
    const connections = Number(values.connections);
    const pid = s.child.pid ?? 0;
    const began = Number(process.hrtime.bigint() / 1000n); // the profile's clock: microseconds, monotonic
    const cpu0 = cpuMs(pid);
    const warm = await wrk(process.env.WRK_BIN ?? 'wrk', HERE, { port: s.port, connections, seconds: 2, path: values.path });
    const run = await wrk(process.env.WRK_BIN ?? 'wrk', HERE, { port: s.port, connections, seconds, path: values.path });
    const requests = warm.requests + run.requests;
    const cpuUsPerRequest = ((cpuMs(pid) - cpu0) * 1000) / requests;
    const ended = Number(process.hrtime.bigint() / 1000n);
    // The drain (SIGTERM) ends with process.exit, which writes the profile.
    s.child.kill('SIGTERM');
    await new Promise((r) => s.child.once('exit', r));
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no .cpuprofile written');
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
    let { totalUs, inclusive, self, owned } = analyse(profile, [began, ended]);
    if (totalUs === 0) ({ totalUs, inclusive, self, owned } = analyse(profile)); // clocks not comparable: every sample
    // Sampled time includes time the thread waited for a CPU (the machine is shared) and idle time: each row is
    // scaled to the process's CPU time per request (/proc, all threads) by its share of the non-idle samples.
    const busyUs = totalUs - (self.get('(idle)') ?? 0);
    const per = (us: number) => ((us / busyUs) * cpuUsPerRequest).toFixed(2);
    const top = Number(values.top);
    const out = [
      `${requests} requests to ${values.path} (${Math.round(run.rps)} req/s under the profiler), tracing ${sampling}: ${cpuUsPerRequest.toFixed(1)} us CPU per request (all threads, /proc); ${(busyUs / requests).toFixed(1)} us of busy main-thread samples per request; rows below are shares of the busy samples times the CPU per request`,
      '',
      '| inclusive us/request | self us/request | function source:line |',
      '|---|---|---|',
    ];
    const rows = [...inclusive.entries()].filter(([l]) => l.includes(values.match)).sort((a, b) => b[1] - a[1]).slice(0, top);
    for (const [l, us] of rows) out.push(`| ${per(us)} | ${per(self.get(l) ?? 0)} | ${l} |`);
    const items = new Map<string, number>();
    for (const [l, us] of owned) {
      const item = ITEMS.find(([, re]) => re.test(l))?.[0] ?? 'other runtime code';
      items.set(item, (items.get(item) ?? 0) + us);
    }
    out.push('', '| item | us/request |', '|---|---|');
    for (const [name] of ITEMS) if (items.has(name)) out.push(`| ${name} | ${per(items.get(name) ?? 0)} |`);
    out.push('', '| charged us/request | nearest runtime frame -> its callee (runtime or Fastify), or other |', '|---|---|');
    for (const [l, us] of [...owned.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`| ${per(us)} | ${l} |`);
    out.push('', '| self us/request | function source:line |', '|---|---|');
    for (const [l, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20)) out.push(`| ${per(us)} | ${l} |`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(`profile failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
