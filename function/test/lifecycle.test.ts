/**
 * The author's lifecycle hooks (function/test/fixtures/lifecycle): `init(ctx)` is awaited after the secrets are
 * loaded and before readiness turns 200; a failing init stops the process; `shutdown()` is awaited during the drain,
 * after the in-flight requests and before the process exits, within SHUTDOWN_TIMEOUT_SECONDS.
 */
import t from 'tap';
import { request } from 'node:http';
import type { InitContext } from '../src/api.js';
import { fixtureServer } from './helpers/bundle.js';
import { startApp } from './helpers/app.js';
import { baseEnv, runToExit, startServer } from './helpers/process.js';

const script = await fixtureServer('lifecycle');
const lines = (output: string) =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; level: string; [k: string]: unknown });

t.test('init gets the config, the loaded secrets and the logger; readiness is 503 until it resolves', async (t) => {
  let release!: () => void;
  const seen: InitContext[] = [];
  const { url, init } = await startApp(t, {
    skipInit: true,
    env: { K_SERVICE: 'hooks' },
    fn: {
      routes: async (app) => {
        app.get('/', async () => ({ ok: true }));
      },
      init: async (ctx) => {
        seen.push(ctx);
        await new Promise<void>((r) => (release = r));
      },
    },
  });
  t.same(await (await fetch(`${url}/readyz`)).json(), { status: 'starting' }, 'before init: starting');
  const running = init();
  await new Promise((r) => setTimeout(r, 50));
  t.equal((await fetch(`${url}/readyz`)).status, 503, 'while init runs: 503');
  t.equal((await fetch(url)).status, 200, 'routes already answer (readiness keeps traffic away)');
  release();
  await running;
  t.same(await (await fetch(`${url}/readyz`)).json(), { status: 'ready' }, 'after init: ready');
  t.equal(seen.length, 1, 'init ran once');
  t.equal(seen[0]?.config.service, 'hooks');
  t.equal(typeof seen[0]?.secrets.get, 'function');
  t.equal(typeof seen[0]?.logger.info, 'function');
});

t.test('in the process: listening, then init, then readiness 200', async (t) => {
  const server = await startServer(baseEnv({ FIXTURE_INIT_MS: '1000' }), 20_000, { script });
  t.teardown(() => server.stop());
  const probe = await fetch(`${server.url}/readyz`);
  t.equal(probe.status, 503, 'listening but init still running: 503');
  t.same(await probe.json(), { status: 'starting' });
  const deadline = Date.now() + 5_000;
  while ((await fetch(`${server.url}/readyz`)).status !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.same(await (await fetch(server.url)).json(), { initialized: true }, 'ready once init has finished');
  const msgs = lines(server.output()).map((l) => l.msg);
  t.ok(msgs.indexOf('listening') < msgs.indexOf('fixture init: done'), 'init runs after listening');
  t.ok(msgs.indexOf('fixture init: done') < msgs.indexOf('init done: ready'), 'and is awaited');
});

t.test('a failing init stops the process: exit 1, the error logged', async (t) => {
  const result = await runToExit(baseEnv({ FIXTURE_INIT_FAIL: '1' }), 20_000, script);
  t.equal(result.code, 1);
  const fatal = lines(result.stdout).find((l) => l.level === 'fatal');
  t.equal(fatal?.msg, "the function's init failed: exiting");
  t.match(JSON.stringify(fatal), /the model could not be loaded/);
});

t.test('SIGTERM: in-flight requests finish, then shutdown is awaited, then the process exits 0', async (t) => {
  const server = await startServer(baseEnv({ FIXTURE_SHUTDOWN_MS: '300', SHUTDOWN_TIMEOUT_SECONDS: '20' }), 20_000, { script });
  t.teardown(() => server.stop());
  const inflight = new Promise<number>((resolve, reject) =>
    request({ host: '127.0.0.1', port: server.port, path: '/slow?ms=600', method: 'POST' }, (res) => res.resume().on('end', () => resolve(res.statusCode ?? 0)))
      .on('error', reject)
      .end(),
  );
  await new Promise((r) => setTimeout(r, 200));
  server.child.kill('SIGTERM');
  t.equal(await inflight, 200, 'the in-flight request got its answer');
  t.equal((await server.exited).code, 0);
  const msgs = lines(server.output()).map((l) => l.msg);
  const order = ['draining: readiness is 503, finishing in-flight requests', 'request completed', 'fixture shutdown: start', 'fixture shutdown: done', 'drained: exiting'];
  t.same(
    msgs.filter((m) => order.includes(m)),
    order,
    'drain order: stop accepting, in-flight, the function\'s shutdown, then exit',
  );
});

t.test('a shutdown that outlives SHUTDOWN_TIMEOUT_SECONDS: exit 1 at the deadline', async (t) => {
  const server = await startServer(baseEnv({ FIXTURE_SHUTDOWN_MS: '10000', SHUTDOWN_TIMEOUT_SECONDS: '1' }), 20_000, { script });
  t.teardown(() => server.stop());
  const at = Date.now();
  server.child.kill('SIGTERM');
  const exit = await server.exited;
  t.equal(exit.code, 1);
  t.ok(exit.at - at < 3_000, `forced after ~1 s (${exit.at - at} ms)`);
  t.match(server.output(), /drain did not finish within 1s \(SHUTDOWN_TIMEOUT_SECONDS\)/);
});
