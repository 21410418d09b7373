/**
 * `make dev` as a function author uses it: the secret keys their values file declares are seeded, the settings it
 * declares reach the function (a value set in the shell wins), the function binds loopback, and an edit under
 * function/ rebuilds and restarts the function alone while queue-proxy and the peers stay up. Runs in its own
 * network namespace (as make-dev.test.ts) so it does not collide with a `make dev` already running.
 */
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureServer } from '../../../function/test/helpers/bundle.ts';
import { createPodNetwork } from '../../dev/lib/netns.ts';
import { canIsolate, REPO_ROOT, requirements } from './harness.ts';

t.test('make dev: declared secret keys seeded, declared settings passed (shell wins), loopback, rebuild + restart on change', { timeout: 240_000 }, async (t) => {
  const missing = requirements();
  if (missing) {
    t.fail(missing);
    return;
  }
  if (!canIsolate()) {
    t.fail('this test runs make dev in its own network namespace: run it as root with iproute2 (as CI does)');
    return;
  }
  const net = createPodNetwork();
  const stateDir = mkdtempSync(join(tmpdir(), 'knative-fn-dev-author-'));
  const fnDir = mkdtempSync(join(tmpdir(), 'knative-fn-author-'));
  t.teardown(() => {
    net.remove();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(fnDir, { recursive: true, force: true });
  });
  writeFileSync(
    join(fnDir, 'values.yaml'),
    'function:\n  env:\n    GREETING: from-values\n    MAX_ITEMS: 3\n  secretKeys: [SIGNING_KEY, API_TOKEN]\n  probePath: /\n',
  );
  // A local value for one key (the file make dev reads; .dev/ is git-ignored): the other key gets a random value.
  writeFileSync(join(stateDir, 'secrets.json'), JSON.stringify({ API_TOKEN: 'local-token-value' }));
  const inNs = (command: string, args: string[]): string => {
    const c = net.wrap(command, args);
    return execFileSync(c.command, c.args, { encoding: 'utf8' });
  };
  const pidOf = (pattern: RegExp): string | undefined => {
    const ns = net.wrap('true', []).args[2]!;
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean);
    return pids.find((p) => {
      try {
        return pattern.test(readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' '));
      } catch {
        return false;
      }
    });
  };
  const environOf = (pid: string): Record<string, string> =>
    Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

  const functionEntry = process.env.DEV_FUNCTION_ENTRY || (await fixtureServer('basic'));
  const cmd = net.wrap(join(REPO_ROOT, 'node_modules/.bin/node'), [join(REPO_ROOT, 'scripts/dev/main.ts')]);
  // MAX_ITEMS is set in the shell (wins over the values file); UNDECLARED is not a declared setting.
  const child = spawn(cmd.command, cmd.args, {
    cwd: REPO_ROOT,
    // The runtime around the basic fixture (not whatever make build last built); the rebuild is a no-op here, so the
    // test does not rewrite dist/ (scripts/build.mjs has its own tests).
    // (A build fails, as tsc does, with its error on stdout, while the file `fail` exists in the state directory.)
    env: {
      ...process.env,
      DEV_STATE_DIR: stateDir,
      FUNCTION: fnDir,
      DEV_FUNCTION_ENTRY: functionEntry,
      DEV_BUILD: `if [ -e '${join(stateDir, 'fail')}' ]; then echo 'index.ts(1,1): error TS2322: broken on purpose'; exit 2; fi`,
      MAX_ITEMS: '7',
      UNDECLARED: 'x',
      // Not Jaeger's default port: the guide's make trace line must then say where it is.
      DEV_JAEGER_PORT: '16786',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const waitFor = (re: RegExp, ms: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms:\n${out}`)), ms);
      const check = (): void => {
        if (re.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', (c: Buffer) => ((out += c.toString()), check()));
      child.stderr.on('data', (c: Buffer) => ((out += c.toString()), check()));
      check();
    });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  await waitFor(/Ctrl-C stops everything/, 60_000);
  t.match(out, /secret knative-fn\/local\/app seeded with SIGNING_KEY, API_TOKEN/, 'the declared secret keys are seeded');
  t.notMatch(out, /local-token-value/, 'no secret value is printed');
  const jaeger = /JAEGER_URL=(\S+)/.exec(out)![1]!;
  t.match(out, `JAEGER_URL=${jaeger} make trace ID=<trace id>`, "the guide's make trace reads this Jaeger (not the default port)");
  const moto = /SECRETS_ENDPOINT=(\S+)/.exec(out)![1]!;
  const secretDoc = (): Record<string, string> =>
    JSON.parse(
      (
        JSON.parse(
          inNs('curl', ['-s', moto, '-H', 'X-Amz-Target: secretsmanager.GetSecretValue', '-H', 'Content-Type: application/x-amz-json-1.1', '-H', 'Authorization: AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/secretsmanager/aws4_request', '-d', '{"SecretId":"knative-fn/local/app"}']),
        ) as { SecretString: string }
      ).SecretString,
    ) as Record<string, string>;
  const doc = secretDoc();
  t.same(Object.keys(doc), ['SIGNING_KEY', 'API_TOKEN'], 'one secret document with the declared keys');
  t.equal(doc.API_TOKEN, 'local-token-value', "a key's value from the local secrets file");
  t.match(doc.SIGNING_KEY, /^[0-9a-f]{64}$/, 'another key: a random value');

  const fnPid = pidOf(/server\.js/);
  t.ok(fnPid, 'the function runs');
  const env = environOf(fnPid!);
  t.equal(env.GREETING, 'from-values', 'a declared setting reaches the function from the values file');
  t.equal(env.MAX_ITEMS, '7', 'a declared setting set in the shell wins');
  t.notOk('UNDECLARED' in env, 'an undeclared shell variable does not');
  t.equal(env.HOST, '127.0.0.1', 'the function binds loopback');
  const listening = inNs('ss', ['-Hltnp']);
  const fnSockets = listening.split('\n').filter((l) => l.includes(`pid=${fnPid},`));
  t.ok(fnSockets.length >= 2, `the function listens (public and metrics ports):\n${listening}`);
  for (const l of fnSockets) t.match(l, /\s127\.0\.0\.1:\d+\s/, `on loopback only: ${l.trim()}`);

  const qpPid = pidOf(/queue-proxy|\/queue(\s|$)/);
  // An edit under function/ (its mtime is enough for the watcher).
  const src = join(REPO_ROOT, 'function/src/types.ts');
  const touch = (): void => {
    const now = new Date();
    utimesSync(src, now, now);
  };
  // A build that fails: its error is shown (tsc writes it on stdout), the running function stays.
  writeFileSync(join(stateDir, 'fail'), '');
  touch();
  await waitFor(/build failed in [\d.]+ s/, 60_000);
  t.match(out, 'index.ts(1,1): error TS2322: broken on purpose', "a failed build prints the build's error");
  t.equal(pidOf(/server\.js/), fnPid, 'a failed build leaves the function running');
  rmSync(join(stateDir, 'fail'));
  // The values file edited while make dev runs: a changed setting and a new secret key reach the restarted function.
  writeFileSync(
    join(fnDir, 'values.yaml'),
    'function:\n  env:\n    GREETING: edited\n    MAX_ITEMS: 3\n  secretKeys: [SIGNING_KEY, API_TOKEN, NEW_KEY]\n  probePath: /\n',
  );
  // (The function's folder is outside function/ here: make dev watches it too.)
  await waitFor(/rebuilt in [\d.]+ s, function restarted and ready in \d+ ms/, 30_000);
  t.match(out, 'secret knative-fn/local/app seeded with NEW_KEY too', 'the new key is seeded, and make dev says so');
  const reseeded = secretDoc();
  t.same(Object.keys(reseeded), ['SIGNING_KEY', 'API_TOKEN', 'NEW_KEY'], 'the secret document has the new key');
  t.equal(reseeded.SIGNING_KEY, doc.SIGNING_KEY, 'the keys seeded before keep their values');
  t.match(reseeded.NEW_KEY, /^[0-9a-f]{64}$/);
  t.comment(/rebuilt in [\d.]+ s, function restarted and ready in \d+ ms/.exec(out)![0]);
  const newPid = pidOf(/server\.js/);
  t.ok(newPid && newPid !== fnPid, 'a new function process');
  t.equal(environOf(newPid!).GREETING, 'edited', "the values file's edited setting reaches the restarted function");
  t.equal(environOf(newPid!).MAX_ITEMS, '7', 'the shell still wins');
  t.equal(pidOf(/queue-proxy|\/queue(\s|$)/), qpPid, 'queue-proxy stayed up');
  const url = /FUNCTION_URL=(\S+)/.exec(out)![1]!;
  t.match(inNs('curl', ['-s', '-i', `${url}/`]), /^HTTP\/1\.1 200/, 'the function answers after the restart');
  t.notMatch(out, /exited unexpectedly/, 'the restart is not reported as a crash');

  child.kill('SIGINT');
  setTimeout(() => child.kill('SIGINT'), 300);
  t.equal(await exited, 0, 'make dev exited 0');
});
