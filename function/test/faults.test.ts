/**
 * Secrets fault injection: the built function (dist/server.js, as the image runs it) against moto's Secrets Manager,
 * through a fault proxy (function/test/helpers/fault-proxy.ts) for what moto cannot produce. One row per fault class:
 * expected behaviour, observed behaviour, time to exit or to be ready, and whether the secret value leaked into any
 * log line or exported span (spans go to a local OTLP/HTTP JSON receiver and are grepped too).
 *
 * The table is printed as "fault row {...}" lines (copied into docs/reliability.md).
 */
import t from 'tap';
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { AWS_ERRORS, startFaultProxy, type Fault } from './helpers/fault-proxy.js';
import { freePort, startMoto, type Moto } from './helpers/moto.js';
import { baseEnv, runToExit, startServer } from './helpers/process.js';

const VALUE = `fault-secret-${randomBytes(12).toString('hex')}`;
const ROTATED = `fault-rotated-${randomBytes(12).toString('hex')}`;
const SECRET = 'faults/keyed';
/** Rows run this many at a time (each is its own function process). */
const PARALLEL = 2;

interface Observed {
  outcome: 'exit' | 'ready';
  code: number | null;
  errorClass: string;
  /** From spawning the process to its exit (or to ready). */
  ms: number;
  /** From its first GetSecretValue call to its exit (or to ready): what the 10 s promise is about. */
  secretsMs?: number;
  doneAt: number;
  output: string;
  note: string;
}

interface Row {
  fault: string;
  how: string;
  expected: string;
  expect: { outcome: 'exit' | 'ready'; errorClass?: string[] };
  run(): Promise<Observed>;
}

/** OTLP/HTTP JSON receiver: keeps every exported request body, to grep the spans for the secret. */
async function startReceiver(): Promise<{ url: string; bodies: string[]; server: Server }> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += String(c)));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`, bodies, server };
}

let moto: Moto;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

function env(endpoint: string, extra: Record<string, string> = {}): Record<string, string> {
  return baseEnv({
    ...moto.env,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
    SECRETS: SECRET,
    LOG_LEVEL: 'debug',
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: '200',
    ...extra,
  });
}

/** Start-up that is expected to fail closed: exit code, error class from the one stderr line, time to exit. */
async function startup(e: Record<string, string>): Promise<Observed> {
  const r = await runToExit(e, 30_000);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('{'));
  let errorClass = '';
  try {
    errorClass = String((JSON.parse(lines.at(-1) ?? '{}') as { errorClass?: string }).errorClass ?? '');
  } catch {
    errorClass = 'unparsable stderr';
  }
  const ready = /"listening"/.test(r.stdout);
  return {
    outcome: ready ? 'ready' : 'exit',
    code: r.code,
    errorClass,
    ms: r.ms,
    doneAt: Date.now(),
    output: r.stdout + r.stderr,
    note: `${lines.length} fatal line(s) on stderr`,
  };
}

/** Start-up that is expected to succeed: time to the listening line, a correct signature, then a clean drain. */
async function ready(e: Record<string, string>, note = ''): Promise<Observed> {
  const started = Date.now();
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(e, 30_000);
  } catch (err) {
    const text = String((err as Error).message);
    const errorClass = /"errorClass":"(\w+)"/.exec(text)?.[1] ?? 'did not start';
    return { outcome: 'exit', code: 1, errorClass, ms: Date.now() - started, doneAt: Date.now(), output: text, note };
  }
  const doneAt = Date.now();
  const ms = doneAt - started;
  try {
    const body = '{"row":1}';
    const res = await fetch(`${server.url}/digest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const sig = ((await res.json()) as { digest?: string }).digest;
    const good = res.status === 200 && sig === createHmac('sha256', VALUE).update(body).digest('hex');
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    return { outcome: good ? 'ready' : 'exit', code: exit.code, errorClass: good ? '' : `sign ${res.status}`, ms, doneAt, output: server.output(), note };
  } finally {
    await server.stop();
  }
}

async function viaProxy(fault: Fault, times: number, expectReady: boolean, extra: Record<string, string> = {}): Promise<Observed> {
  const proxy = await startFaultProxy(t, moto.endpoint);
  proxy.inject(fault, times);
  const observed = expectReady ? await ready(env(proxy.endpoint, extra)) : await startup(env(proxy.endpoint, extra));
  if (proxy.firstCallAt) observed.secretsMs = observed.doneAt - proxy.firstCallAt;
  observed.note = `${observed.note ? `${observed.note}; ` : ''}${proxy.faulted}/${proxy.calls} GetSecretValue calls faulted`;
  await proxy.close();
  return observed;
}

const exitRow = (fault: string, how: string, errorClass: string | string[], run: () => Promise<Observed>): Row => ({
  fault,
  how,
  expected: `exit 1 within 10 s naming ${[errorClass].flat().join(' or ')}`,
  expect: { outcome: 'exit', errorClass: [errorClass].flat() },
  run,
});
const readyRow = (fault: string, how: string, expected: string, run: () => Promise<Observed>): Row => ({
  fault,
  how,
  expected,
  expect: { outcome: 'ready' },
  run,
});

const rows: Row[] = [
  exitRow('not found', 'moto (via a pass-through proxy): SECRETS names a secret that does not exist', 'ResourceNotFoundException', () =>
    viaProxy({ kind: 'pass' }, 0, false, { SECRETS: 'faults/missing' }),
  ),
  exitRow('access denied', 'proxy: AWS AccessDeniedException (HTTP 400)', 'AccessDeniedException', () => viaProxy(AWS_ERRORS.accessDenied, Infinity, false)),
  exitRow('KMS decryption failure', 'proxy: AWS DecryptionFailure (HTTP 400)', 'DecryptionFailure', () => viaProxy(AWS_ERRORS.decryptionFailure, Infinity, false)),
  readyRow('throttling, transient', 'proxy: ThrottlingException on the first call', 'SDK retries with backoff; ready, signs', () =>
    viaProxy(AWS_ERRORS.throttling, 1, true),
  ),
  // The SDK's throttling backoff (3 attempts) may outlast the 6 s start-up deadline on a busy machine.
  exitRow('throttling, persistent', 'proxy: ThrottlingException on every call', ['ThrottlingException', 'TimeoutError'], () => viaProxy(AWS_ERRORS.throttling, Infinity, false)),
  readyRow('service error, transient', 'proxy: InternalServiceError (HTTP 500) on the first call', 'SDK retries; ready, signs', () =>
    viaProxy(AWS_ERRORS.internal, 1, true),
  ),
  exitRow('unreachable', 'endpoint on a closed port', 'EndpointUnreachable', async () => startup(env(`http://127.0.0.1:${await freePort()}`))),
  readyRow('connection reset, transient', 'proxy: reset on the first call', 'SDK retries; ready, signs', () => viaProxy({ kind: 'reset' }, 1, true)),
  exitRow('connection reset, persistent', 'proxy: reset on every call', 'EndpointUnreachable', () => viaProxy({ kind: 'reset' }, Infinity, false)),
  readyRow('slow', 'proxy: 1.5 s latency on every call', 'ready after the delay, signs', () => viaProxy({ kind: 'latency', ms: 1_500 }, Infinity, true)),
  exitRow('silent (never answers)', 'proxy: accepts, never answers', 'TimeoutError', () => viaProxy({ kind: 'blackhole' }, Infinity, false)),
  // The SDK sees the connection drop mid-body (ECONNRESET/aborted): classified with the network errors.
  exitRow('truncated body', 'proxy: half the body, then the connection drops', 'EndpointUnreachable', () => viaProxy({ kind: 'truncate' }, Infinity, false)),
  exitRow('malformed response', 'proxy: HTTP 200 with a body that is not JSON', 'SyntaxError', () => viaProxy({ kind: 'malformed' }, Infinity, false)),
  exitRow('malformed SecretString', 'moto (via a pass-through proxy): SecretString is not a JSON object', 'NotJsonObject', () =>
    viaProxy({ kind: 'pass' }, 0, false, { SECRETS: 'faults/not-json' }),
  ),
];

t.before(async () => {
  moto = await startMoto(t);
  receiver = await startReceiver();
  t.teardown(() => void receiver.server.close());
  await moto.createSecret(SECRET, JSON.stringify({ FIXTURE_KEY: VALUE }));
  await moto.createSecret('faults/not-json', `not json ${VALUE}`);
});

const results: Array<Row & { observed: Observed; leaked: boolean }> = [];

t.test('every fault class: fail closed or recover, within 10 s, no value leaked', { timeout: 300_000 }, async (t) => {
  let next = 0;
  const worker = async () => {
    while (next < rows.length) {
      const row = rows[next++]!;
      const observed = await row.run();
      results.push({ ...row, observed, leaked: observed.output.includes(VALUE) });
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  for (const row of rows) {
    const r = results.find((x) => x.fault === row.fault)!;
    const o = r.observed;
    t.comment(
      `fault row ${JSON.stringify({ fault: r.fault, how: r.how, expected: r.expected, observed: o.outcome === 'exit' ? `exit ${o.code}, ${o.errorClass}` : `ready, signed, exit ${o.code} on SIGTERM`, ms: o.ms, secretsMs: o.secretsMs, leaked: r.leaked, note: o.note })}`,
    );
    t.test(r.fault, async (t) => {
      t.equal(o.outcome, r.expect.outcome, `${r.expected} (observed: ${o.outcome} ${o.errorClass})\n${o.output.slice(-1500)}`);
      if (r.expect.outcome === 'exit') {
        t.equal(o.code, 1, 'exit code 1');
        t.ok(r.expect.errorClass?.includes(o.errorClass), `the fatal line names ${r.expect.errorClass?.join(' or ')} (got ${o.errorClass})`);
        t.match(o.note, /^1 fatal line/, 'exactly one line on stderr');
      } else {
        t.equal(o.code, 0, 'drained and exited 0 on SIGTERM');
      }
      // The 10 s promise covers loading secrets: counted from the first GetSecretValue call when the proxy sees it
      // (process start-up itself is not part of it and varies with the machine's load), else from the spawn.
      const ms = o.secretsMs ?? o.ms;
      t.ok(ms < 10_000, `${o.outcome === 'exit' ? 'exited' : 'ready'} ${ms} ms after ${o.secretsMs === undefined ? 'the spawn' : 'its first GetSecretValue call'} (< 10 s; ${o.ms} ms from the spawn)`);
      t.equal(r.leaked, false, 'the secret value is in no log line');
    });
  }
});

t.test('rotation mid-traffic while refreshes fail: no request fails, last good key kept, new key after recovery', { timeout: 120_000 }, async (t) => {
  const proxy = await startFaultProxy(t, moto.endpoint);
  const server = await startServer(env(proxy.endpoint, { SECRETS_REFRESH_SECONDS: '1' }), 30_000);
  t.teardown(() => server.stop());
  const body = '{"order":7}';
  const sig = (key: string) => createHmac('sha256', key).update(body).digest('hex');
  const seen = { old: 0, rotated: 0, other: 0, failed: 0 };
  let firstRotatedAt = 0;
  let stop = false;
  const traffic = async () => {
    while (!stop) {
      const res = await fetch(`${server.url}/digest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).catch(() => undefined);
      if (!res || res.status !== 200) {
        seen.failed += 1;
        continue;
      }
      const s = ((await res.json()) as { digest: string }).digest;
      if (s === sig(VALUE)) seen.old += 1;
      else if (s === sig(ROTATED)) {
        seen.rotated += 1;
        firstRotatedAt ||= Date.now();
      } else seen.other += 1;
    }
  };
  const load = [traffic(), traffic(), traffic(), traffic()];
  await sleep(1_000);
  // Secrets Manager starts throttling, and the secret is rotated while it does.
  proxy.inject(AWS_ERRORS.throttling);
  // A refresh already past the proxy when the fault starts must not read the new version: let it finish first.
  await sleep(1_500);
  await moto.putSecret(SECRET, JSON.stringify({ FIXTURE_KEY: ROTATED }));
  await sleep(3_500);
  const oldDuringFault = seen.old;
  const rotatedDuringFault = seen.rotated;
  const clearedAt = Date.now();
  proxy.inject({ kind: 'pass' }, 0);
  const deadline = Date.now() + 10_000;
  while (!firstRotatedAt && Date.now() < deadline) await sleep(100);
  await sleep(500);
  stop = true;
  await Promise.all(load);
  const recoverMs = firstRotatedAt ? firstRotatedAt - clearedAt : -1;
  server.child.kill('SIGTERM');
  const exit = await server.exited;
  const warnings = server.output().split('\n').filter((l) => l.includes('secret refresh failed'));
  const leaked = server.output().includes(VALUE) || server.output().includes(ROTATED) || receiver.bodies.some((b) => b.includes(VALUE) || b.includes(ROTATED));
  t.comment(
    `fault row ${JSON.stringify({
      fault: 'rotation mid-traffic with refresh throttled',
      how: 'moto: new FIXTURE_KEY version; proxy: ThrottlingException on refresh for 3.5 s, then clear',
      expected: 'no failed request; old key served while refresh fails; new key after recovery',
      observed: `${seen.old + seen.rotated} requests, ${seen.failed} failed; ${oldDuringFault} old-key and ${rotatedDuringFault} new-key signatures during the fault; ${warnings.length} refresh warnings`,
      ms: recoverMs,
      leaked,
      note: 'ms = from the fault clearing to the first signature with the new key (TTL 1 s)',
    })}`,
  );
  t.equal(seen.failed, 0, 'no request failed');
  t.equal(seen.other, 0, 'every signature used the old or the new key');
  t.ok(oldDuringFault > 0, 'requests were served during the fault');
  t.equal(rotatedDuringFault, 0, 'the new key could not be read while throttled: the last good key was kept');
  t.ok(warnings.length >= 1, 'each failed refresh logs a warning');
  t.ok(recoverMs >= 0 && recoverMs < 5_000, `the new key was served ${recoverMs} ms after the fault cleared`);
  t.equal(exit.code, 0, 'drained and exited 0');
  t.equal(leaked, false, 'neither key is in any log line or span');
});

t.test('no secret value in any exported span', async (t) => {
  await sleep(500);
  t.ok(receiver.bodies.length > 0, `spans were exported (${receiver.bodies.length} OTLP requests)`);
  t.equal(receiver.bodies.filter((b) => b.includes(VALUE) || b.includes(ROTATED)).length, 0, 'no OTLP request carries a secret value');
  t.ok(receiver.bodies.some((b) => b.includes('secrets.load')), 'the start-up secrets.load spans are among them');
});
