// scripts/platform.sh (what `make plan-dev`/`plan-prod` run, reused by the deploy flow),
// driven with recording stub `aws` and `tofu` executables on PATH: no AWS is contacted.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, output, run } from './helpers.ts';

const SCRIPT = join(ROOT, 'scripts', 'platform.sh');

interface Sandbox {
  bin: string;
  home: string;
  log: string;
  env: NodeJS.ProcessEnv;
}

function sandbox(t: { teardown(fn: () => void): void }, opts: { aws?: boolean; clusterInState?: boolean } = {}): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'platform-sh-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'bin');
  const home = join(dir, 'home');
  mkdirSync(bin);
  mkdirSync(home);
  const log = join(dir, 'calls.log');
  writeFileSync(log, '');
  const stub = (name: string, body: string) => {
    const p = join(bin, name);
    writeFileSync(p, `#!/usr/bin/env bash\nprintf '%s' '${name}' >> '${log}'; printf ' %q' "$@" >> '${log}'; printf '\\n' >> '${log}'\n${body}\n`);
    chmodSync(p, 0o755);
  };
  if (opts.aws !== false) stub('aws', 'if [[ "$1 $2" == "sts get-caller-identity" ]]; then echo 123456789012; fi');
  stub(
    'tofu',
    opts.clusterInState
      ? 'if [[ "$2" == "state" ]]; then echo module.platform.module.cluster.module.eks.aws_eks_cluster.this[0]; fi'
      : 'if [[ "$2" == "state" ]]; then exit 0; fi',
  );
  return {
    bin,
    home,
    log,
    env: { PATH: `${bin}:/usr/bin:/bin`, HOME: home, TOFU: join(bin, 'tofu') },
  };
}

const calls = (s: Sandbox): string[] => readFileSync(s.log, 'utf8').split('\n').filter(Boolean);
const sh = (s: Sandbox, args: string[], env: NodeJS.ProcessEnv = {}) =>
  run('bash', [SCRIPT, ...args], { env: { ...s.env, ...env }, timeout: 30_000 });

// run() merges process.env; the credential variables of the test runner must not leak in.
const NO_AWS_ENV = Object.fromEntries(
  Object.keys(process.env)
    .filter((k) => k.startsWith('AWS_') || k === 'TF_STATE_BUCKET')
    .map((k) => [k, undefined]),
);

t.test('without AWS credentials plan stops at once with one line saying what to set', async (t) => {
  for (const env of ['dev', 'prod']) {
    const s = sandbox(t);
    const started = Date.now();
    const r = sh(s, ['plan', env], NO_AWS_ENV);
    t.ok(Date.now() - started < 5000, 'in under 5 seconds');
    t.equal(r.status, 2, output(r));
    t.same(r.stderr.trim().split('\n'), ['platform: no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run in CI with OIDC) and retry']);
    t.same(calls(s), [], 'neither aws nor tofu was called');
  }
});

t.test('an unknown environment is refused before anything runs', async (t) => {
  const s = sandbox(t);
  const r = sh(s, ['plan', 'staging'], { ...NO_AWS_ENV, AWS_PROFILE: 'x' });
  t.equal(r.status, 2);
  t.same(r.stderr.trim().split('\n'), ["platform: unknown environment 'staging': use dev or prod"]);
  t.same(calls(s), []);
});

t.test('credentials but no aws CLI: one line naming it', async (t) => {
  const s = sandbox(t, { aws: false });
  const r = sh(s, ['plan', 'dev'], { ...NO_AWS_ENV, AWS_PROFILE: 'x' });
  t.equal(r.status, 2);
  t.match(r.stderr.trim(), /^platform: no aws CLI on PATH/);
});

t.test('plan on a fresh account: init against this env state, then the stage-1 plan', async (t) => {
  const s = sandbox(t);
  const r = sh(s, ['plan', 'dev'], { ...NO_AWS_ENV, AWS_PROFILE: 'x' });
  t.equal(r.status, 0, output(r));
  const dir = join(ROOT, 'platform', 'envs', 'dev');
  t.same(calls(s), [
    'aws sts get-caller-identity --query Account --output text',
    `tofu -chdir=${dir} init -input=false -reconfigure -backend-config=bucket=knfn-tfstate-123456789012-eu-west-1 -backend-config=key=dev/terraform.tfstate -backend-config=region=eu-west-1`,
    `tofu -chdir=${dir} state list`,
    `tofu -chdir=${dir} plan -input=false -target=module.platform.module.encryption -target=module.platform.module.network -target=module.platform.module.cluster -out=tfplan`,
  ]);
  t.match(r.stderr, /stage 1 of 2/, 'says which stage it is on');
});

t.test('plan once the cluster exists: one full plan; TF_STATE_BUCKET wins over the derived name', async (t) => {
  const s = sandbox(t, { clusterInState: true });
  const r = sh(s, ['plan', 'prod'], { ...NO_AWS_ENV, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'x', TF_STATE_BUCKET: 'my-state' });
  t.equal(r.status, 0, output(r));
  const dir = join(ROOT, 'platform', 'envs', 'prod');
  t.same(calls(s), [
    `tofu -chdir=${dir} init -input=false -reconfigure -backend-config=bucket=my-state -backend-config=key=prod/terraform.tfstate -backend-config=region=eu-west-1`,
    `tofu -chdir=${dir} state list`,
    `tofu -chdir=${dir} plan -input=false -out=tfplan`,
  ]);
});

t.test('apply on a fresh account: the cluster first, then everything from a saved plan', async (t) => {
  const s = sandbox(t);
  const r = sh(s, ['apply', 'dev'], { ...NO_AWS_ENV, AWS_PROFILE: 'x', TF_STATE_BUCKET: 'b' });
  t.equal(r.status, 0, output(r));
  const tofu = calls(s).map((c) => c.replace(/ -chdir=\S+/, ''));
  t.same(tofu, [
    'tofu init -input=false -reconfigure -backend-config=bucket=b -backend-config=key=dev/terraform.tfstate -backend-config=region=eu-west-1',
    'tofu state list',
    'tofu apply -input=false -auto-approve -target=module.platform.module.encryption -target=module.platform.module.network -target=module.platform.module.cluster',
    'tofu plan -input=false -out=tfplan',
    'tofu apply -input=false tfplan',
  ]);
});

t.test('outputs prints the JSON of tofu output on stdout only', async (t) => {
  const s = sandbox(t);
  writeFileSync(join(s.bin, 'tofu'), `#!/usr/bin/env bash\nif [[ "$2" == "output" ]]; then echo '{"cluster_name":{"value":"knfn-dev"}}'; fi\n`);
  const r = sh(s, ['outputs', 'dev'], { ...NO_AWS_ENV, AWS_PROFILE: 'x', TF_STATE_BUCKET: 'b' });
  t.equal(r.status, 0, output(r));
  t.same(JSON.parse(r.stdout), { cluster_name: { value: 'knfn-dev' } });
});

t.test("bootstrap names the bucket from the given environment's project and region, and needs one", async (t) => {
  const s = sandbox(t);
  const r = sh(s, ['bootstrap', 'prod'], { ...NO_AWS_ENV, AWS_PROFILE: 'x' });
  t.equal(r.status, 0, output(r));
  const apply = calls(s).find((c) => / apply /.test(c));
  t.match(apply, /-var=aws_region=eu-west-1 -var=bucket_name=knfn-tfstate-123456789012-eu-west-1$/, 'the names apply prod looks for');
  const none = sh(sandbox(t), ['bootstrap'], { ...NO_AWS_ENV, AWS_PROFILE: 'x' });
  t.equal(none.status, 2, 'no environment: refused');
  t.match(none.stderr, /unknown environment '': use dev or prod/);
});
