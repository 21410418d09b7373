/**
 * Bad-input fuzzing: property-based requests (fast-check, fixed seed printed for reproduction) sent as raw bytes over
 * TCP to every route of the example function (the built bundle, as the image runs it, with its secret from moto) and
 * to the Lambda adapter (the example handler, in process). Random methods, paths, query strings, header sizes and
 * encodings, content types, truncated/invalid/deeply nested/huge JSON, prototype-pollution keys, invalid UTF-8,
 * bodies over the limit, declared lengths that lie, slow bodies and slow headers.
 *
 * Properties: no 5xx, no crash, every 4xx carries a JSON error body, every non-HEAD 2xx is JSON (or the exact echo),
 * memory levels off (after a full GC: heap and external memory flat, RSS flat over the second half of the run).
 * Figures are printed as one JSON line ("fuzz figures ...") for docs/reliability.md.
 *
 * FUZZ_SEED and FUZZ_RUNS reproduce or extend a run: FUZZ_SEED=<printed seed> node_modules/.bin/tap function/test/fuzz.test.ts
 * FUZZ_TAP_HOOKS=1 runs the built function with tap's injected hooks (as before; source maps on), and
 * FUZZ_MALLOC_ARENA_MAX=<n> sets its MALLOC_ARENA_MAX: both only to compare memory figures.
 */
import t from 'tap';
import fc from 'fast-check';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { handler as lambdaEcho } from './fixtures/lambda-echo/index.js';
import { startApp } from './helpers/app.js';
import { startMoto } from './helpers/moto.js';
import { baseEnv, startServer } from './helpers/process.js';
import { Inspector } from '../../scripts/soak/inspector.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const LAMBDA_RUNS = Math.max(1_000, Math.round(RUNS / 5));
const CONCURRENCY = 16;
const BODY_LIMIT = 8_192;
const KEY = 'fuzz-signing-key-0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const SLOW_BODIES = 8;
const SLOW_HEADER_CONNECTIONS = 50;

interface RawRequest {
  method: string;
  target: string;
  headers: Array<[string, string | Buffer]>;
  body: Buffer;
  /** The declared content-length differs from the bytes sent by this much (then the socket is half-closed). */
  lengthLie: number;
  chunked: boolean;
}

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * The request's bytes on the wire: head and body. Building them also flattens the generator's strings in place
 * (`'h'.repeat(20000)` is a small rope until first written, then a 20 KB string held by the request): the in-process
 * test calls this on every request before its memory baseline, so that growth is not counted as the server's.
 */
function wire(req: RawRequest): { head: Buffer; body: Buffer } {
  const head: Buffer[] = [Buffer.from(`${req.method} ${req.target} HTTP/1.1\r\n`, 'latin1')];
  const headers: Array<[string, string | Buffer]> = [['host', '127.0.0.1'], ['connection', 'close'], ...req.headers];
  if (req.chunked) headers.push(['transfer-encoding', 'chunked']);
  else if (req.body.length > 0 || req.lengthLie !== 0) headers.push(['content-length', String(Math.max(0, req.body.length + req.lengthLie))]);
  for (const [name, value] of headers) head.push(Buffer.concat([Buffer.from(`${name}: `, 'latin1'), Buffer.from(value), Buffer.from('\r\n')]));
  head.push(Buffer.from('\r\n'));
  const body = req.chunked && req.body.length > 0 ? Buffer.concat([Buffer.from(`${req.body.length.toString(16)}\r\n`), req.body, Buffer.from('\r\n0\r\n\r\n')]) : req.chunked ? Buffer.from('0\r\n\r\n') : req.body;
  return { head: Buffer.concat(head), body };
}

/** Sends one request as raw bytes on a fresh connection and reads the reply until the server closes it. */
function sendRaw(port: number, req: RawRequest, slowMs = 0): Promise<RawReply | 'closed'> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply in 15 s to ${describe(req)}`));
    }, 15_000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {
      // a reset after the reply (or instead of it) is judged from what arrived
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      resolve(raw.length === 0 ? 'closed' : parseReply(raw));
    });
    socket.on('connect', () => {
      const { head, body } = wire(req);
      const finish = () => (req.lengthLie > 0 ? socket.end() : undefined);
      if (slowMs <= 0) {
        socket.write(Buffer.concat([head, body]));
        finish();
        return;
      }
      socket.write(head);
      const pieces = 10;
      const size = Math.ceil(body.length / pieces);
      let i = 0;
      const next = () => {
        if (socket.destroyed) return;
        const piece = body.subarray(i * size, (i + 1) * size);
        i += 1;
        if (piece.length) socket.write(piece);
        if (i < pieces) setTimeout(next, slowMs / pieces);
        else finish();
      };
      next();
    });
  });
}

function parseReply(raw: Buffer): RawReply {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end === -1 ? raw.length : end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = end === -1 ? Buffer.alloc(0) : raw.subarray(end + 4);
  // A request whose declared length was short leaves bytes that the server reads as a second request: keep the first reply.
  if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    let o = 0;
    for (;;) {
      const nl = body.indexOf('\r\n', o);
      if (nl === -1) break;
      const n = parseInt(body.subarray(o, nl).toString('latin1'), 16);
      if (!n) break;
      parts.push(body.subarray(nl + 2, nl + 2 + n));
      o = nl + 2 + n + 2;
    }
    body = Buffer.concat(parts);
  }
  return { status, headers, body };
}

const describe = (r: RawRequest): string =>
  `${r.method} ${r.target.slice(0, 120)} headers=${JSON.stringify(r.headers.map(([n, v]) => [n.slice(0, 40), String(v).length]))} body=${r.body.length}B${r.chunked ? ' chunked' : ''}${r.lengthLie ? ` lengthLie=${r.lengthLie}` : ''} ${JSON.stringify(r.body.subarray(0, 80).toString('latin1'))}`;

// ---- generators -------------------------------------------------------------------------------------------------

const token = fc.stringMatching(/^[a-zA-Z0-9_.~-]{0,12}$/);
const pctByte = fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).padStart(2, '0')}`);
const pathSegment = fc.oneof(token, pctByte, fc.constantFrom('..', '.', '', '%zz', '%', '__proto__', 'constructor', '%2e%2e', ';x=1', '*'));

function pathArb(routes: string[]) {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...routes) },
    { weight: 2, arbitrary: fc.array(pathSegment, { maxLength: 6 }).map((s) => `/${s.join('/')}`) },
    { weight: 1, arbitrary: fc.integer({ min: 100, max: 12_000 }).map((n) => `/${'a'.repeat(n)}`) },
    { weight: 1, arbitrary: fc.constantFrom('*', 'http://evil.example/', '//double', '/digest/', '/DIGEST', '/%00', '/digest%3F', '/ünïcode', '/digest#frag') },
  );
}

const queryArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  {
    weight: 4,
    arbitrary: fc
      .array(
        fc.tuple(
          fc.oneof(token, fc.constantFrom('name', 'name', '__proto__', 'constructor[prototype][x]', 'token', '%zz', 'a[b][c]')),
          fc.oneof(token, pctByte, fc.string({ maxLength: 80 }).map(encodeURIComponent), fc.integer({ min: 60, max: 5000 }).map((n) => 'n'.repeat(n))),
        ),
        { maxLength: 8 },
      )
      .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
  },
  { weight: 1, arbitrary: fc.constantFrom('?', '?&&&', '?=', '?name', '?name=&name=', '?%', '?name=%ff%fe') },
);

const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/vnd.api+json',
  'APPLICATION/JSON',
  'application/jsonx',
  'text/plain',
  'text/html; charset=latin1',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
  '',
  ';;;',
  'application/json; charset="\u00ff"',
);

const jsonLeaf = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const jsonObjectText = fc
  .dictionary(fc.string({ maxLength: 8 }), fc.oneof(jsonLeaf, fc.array(jsonLeaf, { maxLength: 3 }), fc.dictionary(token, jsonLeaf, { maxKeys: 3 })), { maxKeys: 5 })
  .map((o) => JSON.stringify(o));
const bodyArb = fc.oneof(
  { weight: 3, arbitrary: jsonObjectText.map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.oneof(jsonLeaf, fc.array(jsonLeaf, { maxLength: 4 })).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
  { weight: 2, arbitrary: fc.tuple(jsonObjectText, fc.nat()).map(([s, n]) => Buffer.from(s.slice(0, n % Math.max(1, s.length)))) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }).map((n) => Buffer.from(`${'['.repeat(n)}${']'.repeat(n)}`)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3_000 }).map((n) => Buffer.from(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }).map((n) => Buffer.from('['.repeat(n))) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '{"__proto__":{"polluted":true}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
      '{"a":{"__proto__":{"x":1}}}',
      '{"\\u005f_proto__":{"x":1}}',
      '[{"__proto__":{}}]',
      '{"toString":1,"hasOwnProperty":2}',
      '\ufeff{"bom":true}',
      '{"a":1}garbage',
      '{"a":NaN}',
      '{"a":1e999999}',
      '{"a":"\\ud800"}',
      'null',
      '',
    ).map((s) => Buffer.from(s)),
  },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 600 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]), Buffer.from('{"a":"\xed\xa0\x80"}', 'latin1')) },
  { weight: 1, arbitrary: fc.integer({ min: BODY_LIMIT - 16, max: BODY_LIMIT * 4 }).map((n) => Buffer.from(JSON.stringify({ pad: 'x'.repeat(n) }))) },
);

const headerValue = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ' ')) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 20_000 }).map((n) => 'h'.repeat(n)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a.filter((b) => b !== 10 && b !== 13))) },
  { weight: 1, arbitrary: fc.constantFrom('ab'.repeat(32), 'AB'.repeat(32), 'zz', '', ' '.repeat(64), '0'.repeat(65)) },
);
const headerName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('x-digest', 'content-encoding', 'accept', 'authorization', 'cookie', 'traceparent', 'tracestate', 'x-forwarded-for', 'expect', 'accept-encoding', 'baggage', 'k-network-probe', 'user-agent') },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-zA-Z0-9-]{1,24}$/) },
  { weight: 1, arbitrary: fc.constantFrom('bad header', 'x:y', 'ü-header', '') },
);

function requestArb(routes: string[]) {
  return fc
    .record({
      method: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom('GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD') },
        { weight: 1, arbitrary: fc.constantFrom('get', 'PROPFIND', 'TRACE', 'QUERY', 'FOO', 'G ET', 'P\u00d6ST') },
      ),
      path: pathArb(routes),
      query: queryArb,
      contentType: fc.option(contentType, { nil: undefined }),
      headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
      body: fc.option(bodyArb, { nil: undefined, freq: 4 }),
      lengthLie: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -5, max: 5 }) }),
      chunked: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    })
    .map(
      (r): RawRequest => ({
        method: r.method,
        target: `${r.path}${r.query}`,
        headers: [...(r.contentType !== undefined ? [['content-type', r.contentType] as [string, string]] : []), ...r.headers],
        body: r.body ?? Buffer.alloc(0),
        lengthLie: r.chunked ? 0 : r.lengthLie,
        chunked: r.chunked,
      }),
    );
}

// ---- the run ------------------------------------------------------------------------------------------------------

interface Figures {
  target: string;
  seed: number;
  requests: number;
  byStatus: Record<string, number>;
  serverErrors: number;
  closedWithoutReply: number;
  nonJsonErrorBodies: number;
  nonJsonSuccessBodies: number;
  slowBodies: number;
  slowHeaderConnections: number;
  seconds: number;
  crashes: number;
  memoryBeforeMiB: number;
  memoryAfterMiB: number;
  /** After a full GC, MiB: before the run, after its first half, after its second half (process under test). */
  memory?: Record<'rss' | 'heapUsed' | 'external', [number, number, number]>;
}

interface Judged {
  figures: Figures;
  failures: string[];
}

function isErrorBody(body: Buffer, status: number): boolean {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    return parsed.statusCode === status && typeof parsed.error === 'string' && typeof parsed.message === 'string';
  } catch {
    return false;
  }
}

async function run(
  target: string,
  port: number,
  requests: RawRequest[],
  judge2xx: (req: RawRequest, reply: RawReply) => boolean,
  offset = 0,
): Promise<Judged> {
  const figures: Figures = {
    target,
    seed: SEED,
    requests: 0,
    byStatus: {},
    serverErrors: 0,
    closedWithoutReply: 0,
    nonJsonErrorBodies: 0,
    nonJsonSuccessBodies: 0,
    slowBodies: 0,
    slowHeaderConnections: 0,
    seconds: 0,
    crashes: 0,
    memoryBeforeMiB: 0,
    memoryAfterMiB: 0,
  };
  const failures: string[] = [];
  const started = Date.now();
  const judge = (index: number, req: RawRequest, reply: RawReply | 'closed') => {
    const i = index + offset;
    figures.requests += 1;
    if (reply === 'closed') {
      figures.closedWithoutReply += 1;
      // A connection closed without a reply is only acceptable when the client lied about its length or sent a
      // request line Node's parser refuses outright (then nothing can be answered).
      if (req.lengthLie <= 0) failures.push(`#${i} closed without a reply: ${describe(req)}`);
      return;
    }
    figures.byStatus[reply.status] = (figures.byStatus[reply.status] ?? 0) + 1;
    if (reply.status >= 500 || reply.status < 100) {
      figures.serverErrors += 1;
      failures.push(`#${i} ${reply.status}: ${describe(req)} -> ${reply.body.toString('utf8').slice(0, 200)}`);
    } else if (reply.status >= 400) {
      if (!isErrorBody(reply.body, reply.status) && req.method !== 'HEAD') {
        figures.nonJsonErrorBodies += 1;
        failures.push(`#${i} ${reply.status} without a JSON error body: ${describe(req)} -> ${JSON.stringify(reply.body.toString('utf8').slice(0, 200))}`);
      }
    } else if (req.method !== 'HEAD' && !judge2xx(req, reply)) {
      figures.nonJsonSuccessBodies += 1;
      failures.push(`#${i} ${reply.status} with an unexpected body: ${describe(req)} -> ${JSON.stringify(reply.body.toString('utf8').slice(0, 200))}`);
    }
  };

  // Slow clients in the background: bodies trickled over ~2 s, and connections that never finish their headers.
  const slowHeaders = Array.from({ length: SLOW_HEADER_CONNECTIONS }, () => {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.write('POST /digest HTTP/1.1\r\nhost: x\r\n');
    const drip = setInterval(() => s.write(`x-drip-${Math.random().toString(36).slice(2, 6)}: 1\r\n`), 200);
    return { s, drip };
  });
  figures.slowHeaderConnections = slowHeaders.length;
  const slow = requests.slice(0, SLOW_BODIES).map((req, i) => sendRaw(port, { ...req, lengthLie: 0 }, 2_000).then((r) => judge(i, req, r)));
  figures.slowBodies = SLOW_BODIES;

  let next = 0;
  const slowest: string[] = [];
  const worker = async () => {
    while (next < requests.length) {
      const i = next++;
      const req = requests[i]!;
      const t0 = Date.now();
      judge(i, req, await sendRaw(port, req));
      const ms = Date.now() - t0;
      if (ms > 300) slowest.push(`${ms} ms #${i} ${describe(req)}`);
    }
  };
  await Promise.all([...slow, ...Array.from({ length: CONCURRENCY }, worker)]);
  for (const { s, drip } of slowHeaders) {
    clearInterval(drip);
    s.destroy();
  }
  figures.seconds = Math.round((Date.now() - started) / 100) / 10;
  if (process.env.FUZZ_DEBUG) console.error(slowest.slice(0, 30).join('\n'), slowest.length);
  return { figures, failures };
}

/** Two runs' figures as one. */
function merge(a: Judged, b: Judged): Judged {
  const figures = { ...a.figures, byStatus: { ...a.figures.byStatus } };
  for (const k of ['requests', 'serverErrors', 'closedWithoutReply', 'nonJsonErrorBodies', 'nonJsonSuccessBodies', 'slowBodies', 'slowHeaderConnections', 'seconds', 'crashes'] as const) {
    figures[k] = Math.round((a.figures[k] + b.figures[k]) * 10) / 10;
  }
  for (const [status, n] of Object.entries(b.figures.byStatus)) figures.byStatus[status] = (figures.byStatus[status] ?? 0) + n;
  return { figures, failures: [...a.failures, ...b.failures] };
}

interface MemoryReading {
  rss: number;
  heapUsed: number;
  /** external includes arrayBuffers: Buffers and the like, outside the JavaScript heap. */
  external: number;
}

/** process.memoryUsage() of the process under test after a full GC, in MiB. */
async function memoryAfterGc(inspector: Inspector): Promise<MemoryReading> {
  await inspector.call('HeapProfiler.collectGarbage');
  await inspector.call('HeapProfiler.collectGarbage');
  const r = await inspector.call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
  const m = JSON.parse(String((r.result as { value: string }).value)) as Record<string, number>;
  const mib = (n: number | undefined) => Math.round(((n ?? 0) / 1_048_576) * 10) / 10;
  return { rss: mib(m.rss), heapUsed: mib(m.heapUsed), external: mib(m.external) };
}

const sample = (routes: string[], n: number, seed: number) => fc.sample(requestArb(routes), { seed, numRuns: n });

t.comment(`fuzz seed ${SEED} (reproduce: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} node_modules/.bin/tap function/test/fuzz.test.ts)`);

t.test(`${RUNS} generated requests to the example function (built bundle): no 5xx, no crash, JSON errors, flat memory`, { timeout: Math.max(240_000, RUNS * 10) }, async (t) => {
  const moto = await startMoto(t);
  await moto.createSecret('fuzz/keyed', JSON.stringify({ FIXTURE_KEY: KEY }));
  const server = await startServer(
    baseEnv({
      ...moto.env,
      SECRETS: 'fuzz/keyed',
      BODY_LIMIT_BYTES: String(BODY_LIMIT),
      LOG_LEVEL: 'info',
      K_SERVICE: 'fuzz',
      // The inspector (loopback, random port) only to force a full GC before each memory reading.
      NODE_OPTIONS: '--inspect=127.0.0.1:0',
      // For comparing allocator settings (docs/reliability.md): FUZZ_MALLOC_ARENA_MAX=2.
      ...(process.env.FUZZ_MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX: process.env.FUZZ_MALLOC_ARENA_MAX } : {}),
    }),
    20_000,
    // Without tap's hooks (source maps, module hooks), as the image runs it: memory figures are the image's.
    // FUZZ_TAP_HOOKS=1 keeps them, to compare with figures measured that way.
    { exact: process.env.FUZZ_TAP_HOOKS !== '1' },
  );
  t.teardown(() => server.stop());
  const inspector = await Inspector.attach(server.output());
  t.teardown(() => inspector.close());
  const routes = ['/', '/', '/digest', '/digest', '/digest', '/digest/check', '/digest/check', '/healthz', '/readyz', '/metrics'];
  // Warm-up (JIT, pools, the C allocator's first arenas) before the memory baseline.
  await run('warm-up', server.port, sample(routes, 2_000, SEED + 1), () => true);
  const requests = sample(routes, RUNS, SEED);
  const isJson = (_req: RawRequest, reply: RawReply) => {
    try {
      JSON.parse(reply.body.toString('utf8'));
      return true;
    } catch {
      return false;
    }
  };
  // Two halves, each with its slow clients, and memory read after a full GC before, between and after them.
  const target = 'example function (dist/server.js)';
  const half = Math.floor(RUNS / 2);
  const before = await memoryAfterGc(inspector);
  const first = await run(target, server.port, requests.slice(0, half), isJson);
  const middle = await memoryAfterGc(inspector);
  const second = await run(target, server.port, requests.slice(half), isJson, half);
  const { figures, failures } = merge(first, second);
  const alive = server.child.exitCode === null && (await fetch(`${server.url}/healthz`)).status === 200;
  figures.crashes = alive ? 0 : 1;
  const after = await memoryAfterGc(inspector);
  figures.memoryBeforeMiB = before.heapUsed;
  figures.memoryAfterMiB = after.heapUsed;
  figures.memory = {
    rss: [before.rss, middle.rss, after.rss],
    heapUsed: [before.heapUsed, middle.heapUsed, after.heapUsed],
    external: [before.external, middle.external, after.external],
  };
  const signed = await fetch(`${server.url}/digest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"still":"working"}' });
  t.comment(`fuzz figures ${JSON.stringify(figures)}`);

  t.equal(figures.requests, RUNS + 2 * SLOW_BODIES, 'every generated request got an outcome');
  t.equal(figures.serverErrors, 0, `no 5xx:\n${failures.slice(0, 10).join('\n')}`);
  t.equal(figures.nonJsonErrorBodies, 0, `every 4xx has a JSON error body:\n${failures.slice(0, 10).join('\n')}`);
  t.equal(failures.length, 0, `no other failure:\n${failures.slice(0, 10).join('\n')}`);
  t.equal(figures.crashes, 0, `the process is alive and live afterwards:\n${server.output().slice(-2000)}`);
  t.equal(signed.status, 200, 'and still signs');
  t.ok(Object.keys(figures.byStatus).length >= 6, `the generator reached many outcomes: ${JSON.stringify(figures.byStatus)}`);
  for (const s of ['200', '400', '404', '413', '415']) t.ok(figures.byStatus[s], `reached ${s}`);
  // After a full GC. Heap: a leak of 500 bytes per request would add ~5 MiB over 10,000 requests.
  const memory = JSON.stringify(figures.memory);
  t.ok(after.heapUsed - before.heapUsed < 4, `heap used after GC ${before.heapUsed} -> ${after.heapUsed} MiB: ${memory}`);
  // Buffers and other memory V8 knows of outside its heap (sockets' buffers, parsed bodies).
  t.ok(after.external - before.external < 2, `external memory after GC ${before.external} -> ${after.external} MiB: ${memory}`);
  // RSS: the C allocator keeps what the first thousands of large headers and bodies took (tens of MiB, see
  // docs/reliability.md), so the first half is allowed to grow; the second half must not: a native leak of 2 KB per
  // request would add ~10 MiB over its 5,000 requests.
  t.ok(after.rss - middle.rss < 8, `RSS after GC levels off: ${before.rss} -> ${middle.rss} -> ${after.rss} MiB over two halves of ${half} requests`);
  const errors = server.output().split('\n').filter((l) => l.includes('"level":"error"') || l.includes('"level":"fatal"'));
  t.same(errors, [], 'no error was logged');
  t.notMatch(server.output(), KEY, 'the signing key never reached a log line');
});

t.test(`${LAMBDA_RUNS} generated requests to the Lambda adapter (echo handler): no 5xx, exact echo`, { timeout: 120_000 }, async (t) => {
  const app = await startApp(t, { fn: { handler: lambdaEcho }, env: { BODY_LIMIT_BYTES: String(BODY_LIMIT), OTEL_TRACES_SAMPLER: 'always_off' } });
  const port = Number(new URL(app.url).port);
  const routes = ['/', '/echo', '/echo', '/anything/else', '/healthz'];
  await run('warm-up', port, sample(routes, 300, SEED + 2), () => true);
  const requests = sample(routes, LAMBDA_RUNS, SEED + 3);
  // The requests live in this heap too: their strings take their full size once written (see wire), so before the baseline.
  for (const req of requests) wire(req);
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage().heapUsed / 1_048_576;
  const logBefore = app.rawLogs().length;
  const { figures, failures } = await run('Lambda adapter (in process)', port, requests, (req, reply) => {
    if (req.target.split('?')[0] === '/echo') {
      // The handler echoes the body: binary bodies go through base64 and come back byte for byte.
      // Text types (JSON, text/*) reach the handler as a string, as on API Gateway: invalid UTF-8 becomes U+FFFD.
      if (req.method === 'GET' && reply.body.length === 0) return true; // a GET's body is not read, as on API Gateway
      return reply.body.equals(req.body) || reply.body.equals(Buffer.from(req.body.toString('utf8')));
    }
    try {
      JSON.parse(reply.body.toString('utf8'));
      return true;
    } catch {
      return false;
    }
  });
  gc();
  figures.memoryBeforeMiB = Math.round(before * 10) / 10;
  figures.memoryAfterMiB = Math.round((process.memoryUsage().heapUsed / 1_048_576) * 10) / 10;
  t.comment(`fuzz figures ${JSON.stringify(figures)}`);
  t.equal(figures.serverErrors, 0, `no 5xx:\n${failures.slice(0, 10).join('\n')}`);
  t.equal(failures.length, 0, `no failure:\n${failures.slice(0, 10).join('\n')}`);
  // This heap also holds the test's captured log (startApp keeps every line): that growth is the test's, not the app's.
  // Anything else is the app's: a leak of 1 KB per request would add ~2 MiB over 2,000 requests.
  const logMiB = (app.rawLogs().length - logBefore) / 1_048_576;
  t.ok(figures.memoryAfterMiB - figures.memoryBeforeMiB < 2 + logMiB, `heap ${figures.memoryBeforeMiB} -> ${figures.memoryAfterMiB} MiB (captured log +${logMiB.toFixed(1)} MiB, ${app.spans().length} spans held by the test exporter)`);
  t.notMatch(app.rawLogs(), /"level":"error"/, 'no error was logged');
});
