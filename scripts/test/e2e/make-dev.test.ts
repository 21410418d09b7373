/**
 * `make dev`'s supervisor as a person uses it: prints the endpoint lines, the printed curl works, Ctrl-C stops
 * everything (nothing left running), and a second run right after works too. Runs in its own network namespace so
 * it does not collide with a `make dev` already running on this machine.
 */
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPodNetwork } from '../../dev/lib/netns.ts';
import { fixtureServer } from '../../../function/test/helpers/bundle.ts';
import { toolPaths } from '../../dev/lib/stack.ts';
import { canIsolate, REPO_ROOT, requirements } from './harness.ts';

// make dev runs the runtime around the basic fixture here (DEV_FUNCTION_ENTRY), not whatever make build last built.
const functionEntry = process.env.DEV_FUNCTION_ENTRY || (await fixtureServer('basic'));

interface Run {
  lines: Record<string, string>;
  readyMs: number;
  output: () => string;
  exited: Promise<number | null>;
  signal: (s: NodeJS.Signals) => void;
}

function startDev(wrap: (c: string, a: string[]) => { command: string; args: string[] }, stateDir: string): Promise<Run> {
  const cmd = wrap(join(REPO_ROOT, 'node_modules/.bin/node'), [join(REPO_ROOT, 'scripts/dev/main.ts')]);
  const started = Date.now();
  const child = spawn(cmd.command, cmd.args, { cwd: REPO_ROOT, env: { ...process.env, DEV_STATE_DIR: stateDir, DEV_FUNCTION_ENTRY: functionEntry }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return new Promise<Run>((resolve, reject) => {
    const lines: Record<string, string> = {};
    const onData = (c: Buffer): void => {
      out += c.toString();
      for (const m of out.matchAll(/^([A-Z_]+)=(\S+)$/gm)) lines[m[1]!] = m[2]!;
      if (lines.SECRETS_ENDPOINT && /Ctrl-C stops everything/.test(out)) {
        resolve({ lines, readyMs: Date.now() - started, output: () => out, exited, signal: (s) => child.kill(s) });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`make dev exited (${code}) before printing its endpoints:\n${out}`)));
  });
}

t.test('make dev: endpoint lines, a working curl, Ctrl-C leaves nothing running, and a second run works', { timeout: 240_000 }, async (t) => {
  const missing = requirements({ ...toolPaths(), functionEntry });
  if (missing) {
    t.fail(missing);
    return;
  }
  if (!canIsolate()) {
    t.fail('this test runs make dev in its own network namespace: run it as root with iproute2 (as CI does)');
    return;
  }
  const net = createPodNetwork();
  const stateDir = mkdtempSync(join(tmpdir(), 'knative-fn-dev-'));
  t.teardown(() => {
    net.remove();
    rmSync(stateDir, { recursive: true, force: true });
  });
  const inNs = (command: string, args: string[]): string => {
    const c = net.wrap(command, args);
    return execFileSync(c.command, c.args, { encoding: 'utf8' });
  };
  const nsPids = (): string[] => {
    const ns = net.wrap('true', []).args[2]!;
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean);
  };

  for (const round of [1, 2]) {
    const run = await startDev(net.wrap, stateDir);
    t.comment(`round ${round}: endpoints printed after ${run.readyMs} ms`);
    for (const key of ['FUNCTION_URL', 'METRICS_URL', 'JAEGER_URL', 'PROMETHEUS_URL', 'SECRETS_ENDPOINT']) {
      t.match(run.lines[key], /^http:\/\/127\.0\.0\.1:\d+/, `round ${round}: ${key} line`);
    }
    t.ok(run.readyMs < 30_000, `round ${round}: ready in ${run.readyMs} ms (< 30 s with tools built)`);
    // The guide's first curl, as printed.
    const curl = /curl -i (\S+)/.exec(run.output());
    t.ok(curl, 'the guide prints a curl');
    const res = inNs('curl', ['-s', '-i', curl![1]!]);
    t.match(res, /^HTTP\/1\.1 200/, `the printed curl works:\n${res}`);
    t.match(res, /traceresponse: 00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]/i, 'with a traceresponse header');

    if (round === 1) {
      run.signal('SIGINT');
    } else {
      // Ctrl-C twice skips queue-proxy's 30 s drain.
      run.signal('SIGINT');
      await sleep(300);
      run.signal('SIGINT');
    }
    const code = await run.exited;
    t.equal(code, 0, `round ${round}: make dev exited 0`);
    t.match(run.output(), /function: exit code 0/, `round ${round}: the function exited 0`);
    const left = nsPids();
    t.same(left, [], `round ${round}: no process left running`);
  }
});
