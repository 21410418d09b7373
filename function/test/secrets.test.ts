import t from 'tap';
import { createServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { format, inspect } from 'node:util';
import { createLogger } from '../src/logger.js';
import { classify, parseSecretString, SecretLoadError, SecretStore, type SecretStoreLogger } from '../src/secrets.js';
import { freePort, startMoto, type Moto } from './helpers/moto.js';
import { baseEnv, runToExit, startServer } from './helpers/process.js';

const VALUE = 'v4lue-that-must-never-be-printed';
const quiet: SecretStoreLogger = { info: () => {}, warn: () => {} };

function store(ids: string[], refreshSeconds = 0, onRefresh?: (r: 'success' | 'failure') => void, logger = quiet) {
  return new SecretStore({ ids, region: 'us-east-1', refreshSeconds, logger, onRefresh });
}

let moto: Moto;
t.before(async () => {
  moto = await startMoto(t);
  // In-process stores use the SDK's default chain and endpoint variables, exactly as in a pod.
  Object.assign(process.env, moto.env);
  await moto.createSecret('app/one', JSON.stringify({ FIXTURE_KEY: VALUE, SHARED: 'from-one' }));
  await moto.createSecret('app/two', JSON.stringify({ DB_PASSWORD: 'pw', SHARED: 'from-two', PORT: 5432, NESTED: { a: 1 } }));
  await moto.createSecret('app/not-json', `plain ${VALUE}`);
  await moto.createSecret('app/array', JSON.stringify([VALUE]));
  await moto.createSecret('app/deleted', JSON.stringify({ K: VALUE }));
  await moto.scheduleDeletion('app/deleted');
});

t.test('loads several secrets and merges their keys; later ids win', async (t) => {
  const warnings: string[] = [];
  const s = store(['app/one', 'app/two'], 0, undefined, { info: () => {}, warn: (o: object, m: string) => void warnings.push(`${m} ${JSON.stringify(o)}`) });
  t.equal(s.loaded, false);
  await s.load();
  t.equal(s.loaded, true);
  t.equal(s.get('FIXTURE_KEY'), VALUE);
  t.equal(s.get('DB_PASSWORD'), 'pw');
  t.equal(s.get('SHARED'), 'from-two');
  t.equal(s.get('PORT'), '5432', 'non-string values become their JSON text');
  t.equal(s.get('NESTED'), '{"a":1}');
  t.equal(s.get('toString'), undefined, 'only own keys');
  t.match(warnings.join('\n'), /secret key defined twice.*"key":"SHARED"/);
  t.notMatch(warnings.join('\n'), /from-one|from-two/, 'warnings name keys, never values');
});

t.test('rotation is picked up after the TTL, and a failed refresh keeps the last good values', async (t) => {
  await moto.createSecret('app/rotating', JSON.stringify({ FIXTURE_KEY: 'old' }));
  const results: string[] = [];
  const s = store(['app/rotating'], 1, (r) => results.push(r));
  await s.load();
  s.startRefresh();
  t.teardown(() => s.stop());
  t.equal(s.get('FIXTURE_KEY'), 'old');
  await moto.putSecret('app/rotating', JSON.stringify({ FIXTURE_KEY: 'new' }));
  const until = Date.now() + 5_000;
  while (s.get('FIXTURE_KEY') !== 'new' && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  t.equal(s.get('FIXTURE_KEY'), 'new', 'the new value is served within the TTL (+jitter)');
  t.ok(results.includes('success'));

  await moto.putSecret('app/rotating', 'not json any more');
  t.equal(await s.refresh(), false, 'a refresh that fails reports failure');
  t.equal(s.get('FIXTURE_KEY'), 'new', 'and keeps the last good value');
  t.equal(results.at(-1), 'failure');
});

t.test('a SecretString that is not a JSON object is refused without echoing it', async (t) => {
  for (const id of ['app/not-json', 'app/array']) {
    const err = await store([id]).load().catch((e: unknown) => e);
    t.ok(err instanceof SecretLoadError, id);
    t.equal((err as SecretLoadError).errorClass, 'NotJsonObject');
    t.notMatch((err as Error).message, VALUE);
  }
  t.throws(() => parseSecretString('x', undefined), /NoSecretString/);
});

t.test('errors are classified by name, never by message', async (t) => {
  const named = (name: string) => Object.assign(new Error(`contains ${VALUE}`), { name, $metadata: { requestId: 'req-1' } });
  for (const name of ['AccessDeniedException', 'DecryptionFailure', 'ResourceNotFoundException', 'InvalidRequestException', 'ThrottlingException']) {
    const e = classify(named(name), 'arn:x', false);
    t.equal(e.errorClass, name);
    t.equal(e.requestId, 'req-1');
    t.notMatch(e.message, VALUE);
    t.match(e.message, /^secret "arn:x" could not be loaded: /);
  }
  t.equal(classify(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 'a', false).errorClass, 'EndpointUnreachable');
  t.equal(classify(new Error('aborted'), 'a', true).errorClass, 'TimeoutError');
  t.match(classify(named('AccessDeniedException'), 'a', false).hint, /secretsmanager:GetSecretValue/);
});

interface FatalCase {
  name: string;
  env: () => Promise<Record<string, string>> | Record<string, string>;
  secretId: string;
  errorClass: string;
}

async function closedPort(): Promise<number> {
  return freePort();
}

const fatal: FatalCase[] = [
  { name: 'missing secret', env: () => ({ ...moto.env, SECRETS: 'missing-secret' }), secretId: 'missing-secret', errorClass: 'ResourceNotFoundException' },
  { name: 'secret scheduled for deletion', env: () => ({ ...moto.env, SECRETS: 'app/deleted' }), secretId: 'app/deleted', errorClass: 'InvalidRequestException' },
  { name: 'SecretString not JSON', env: () => ({ ...moto.env, SECRETS: 'app/one,app/not-json' }), secretId: 'app/not-json', errorClass: 'NotJsonObject' },
  {
    name: 'unreachable endpoint',
    env: async () => ({ ...moto.env, AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${await closedPort()}`, SECRETS: 'app/one' }),
    secretId: 'app/one',
    errorClass: 'EndpointUnreachable',
  },
];

for (const c of fatal) {
  t.test(`start-up fails closed: ${c.name}`, async (t) => {
    const r = await runToExit(baseEnv(await c.env()));
    t.not(r.code, 0, 'exit code is non-zero');
    t.ok(r.ms < 10_000, `exited within 10 s (${r.ms} ms)`);
    const lines = r.stderr.trim().split('\n').filter(Boolean);
    t.equal(lines.length, 1, `one line on stderr:\n${r.stderr}`);
    const line = JSON.parse(lines[0]!) as Record<string, string>;
    t.equal(line.level, 'fatal');
    t.equal(line.secretId, c.secretId, 'names the secret id');
    t.equal(line.errorClass, c.errorClass, 'names the error class');
    t.match(line.msg, new RegExp(`secret "${c.secretId.replace('/', '\\/')}" could not be loaded: ${c.errorClass}`));
    t.notMatch(r.stdout + r.stderr, VALUE, 'no secret value in the output');
    t.notMatch(r.stdout, /listening/, 'never reported ready');
  });
}

t.test('start-up fails closed within 10 s when Secrets Manager never answers', async (t) => {
  const sockets: Socket[] = [];
  const blackhole = createServer((s) => void sockets.push(s)); // accepts, never answers
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    sockets.forEach((s) => s.destroy());
    blackhole.close();
  });
  const port = (blackhole.address() as { port: number }).port;
  const r = await runToExit(baseEnv({ ...moto.env, AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${port}`, SECRETS: 'app/one' }));
  t.not(r.code, 0);
  t.ok(r.ms < 10_000, `exited within 10 s (${r.ms} ms)`);
  t.match(r.stderr, /"errorClass":"TimeoutError"/);
  t.match(r.stderr, /"secretId":"app\/one"/);
});

t.test('a healthy start-up with secrets: ready, signs, and never prints a value', async (t) => {
  const server = await startServer(baseEnv({ ...moto.env, SECRETS: 'app/one,app/two', LOG_LEVEL: 'debug' }));
  t.teardown(() => server.stop());
  t.equal((await fetch(`${server.url}/readyz`)).status, 200);
  const signed = await fetch(`${server.url}/digest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${VALUE}`, cookie: `session=${VALUE}` },
    body: '{"x":1}',
  });
  t.equal(signed.status, 200);
  const metrics = await (await fetch(`${server.metricsUrl}/metrics`)).text();
  t.match(metrics, /function_cold_start_phase_seconds\{phase="secrets"\} \d/);
  t.match(metrics, /function_secret_last_refresh_success_timestamp_seconds \d{10}/);
  server.child.kill('SIGTERM');
  const exit = await server.exited;
  t.equal(exit.code, 0);
  t.notMatch(server.output(), VALUE, 'no secret or credential value in any log line');
  t.notMatch(server.output(), /\bpw\b/);
});

t.test('the store serialises to secret names only, however user code logs it', async (t) => {
  const s = store(['app/one']);
  await s.load();
  let out = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  });
  const log = createLogger('info', { service: 't' }, sink);
  log.info(s, 'the store as the merging object');
  log.info({ store: s }, 'the store as a field');
  log.info({ nested: { deeper: { store: s } } }, 'the store deeper than any redact path');
  log.info(`${format('%o', s)} ${format('%j', s)} ${inspect(s, { showHidden: true, depth: 10 })}`);
  const printed = `${out}\n${JSON.stringify(s)}\n${JSON.stringify({ ...s })}\n${format('%s %O', s, s)}`;
  t.notMatch(printed, VALUE, 'no secret value');
  t.notMatch(printed, 'from-one');
  t.same(JSON.parse(JSON.stringify(s)), { ids: ['app/one'], keys: ['FIXTURE_KEY', 'SHARED'], loaded: true }, 'ids and key names');
  t.match(out.split('\n')[0], /"ids":\["app\/one"\]/, 'a logged store names its secrets');
  t.match(inspect(s), /^SecretStore \{ ids: \[ 'app\/one' \], keys: \[ 'FIXTURE_KEY', 'SHARED' \], loaded: true \}$/);
  t.equal(s.get('FIXTURE_KEY'), VALUE, 'the values are still there for get()');
});

t.test('stop() while a refresh is in flight: no refresh after it', async (t) => {
  let calls = 0;
  let answer!: () => void;
  const fetcher = {
    fetch: () =>
      new Promise<{ secretString: string }>((resolve) => {
        calls += 1;
        answer = () => resolve({ secretString: '{"K":"v"}' });
        if (calls === 1) answer(); // load() answers at once; the refreshes wait for the test
      }),
  };
  const s = new SecretStore({ ids: ['app/x'], region: 'us-east-1', refreshSeconds: 1, logger: quiet, fetcher });
  await s.load();
  s.startRefresh();
  const until = Date.now() + 5_000;
  while (calls < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  t.equal(calls, 2, 'the first background refresh is in flight');
  s.stop();
  answer();
  await new Promise((r) => setTimeout(r, 2_500)); // more than two refresh periods (1 s + 5 % jitter)
  t.equal(calls, 2, 'no fetch after stop()');
});
