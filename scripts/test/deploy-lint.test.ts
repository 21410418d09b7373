// The CI workflows and every shell script of the repository, checked by their linters (actionlint, shellcheck) and
// by the properties the deploy flow relies on: pinned actions, minimal permissions, OIDC only, prod promotes dev's
// image after an approval. Also scripts/deploy/install-kubectl.sh against a stub curl.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import YAML from 'yaml';
import { Harness, ROOT, runCli, type Rule } from './deploy-harness.ts';

const WORKFLOWS = join(ROOT, '.github', 'workflows');
const VENV_BIN = join(ROOT, '.venv', 'bin');

function tool(name: string): string | undefined {
  return [join(ROOT, 'bin', name), join(VENV_BIN, name)].find((p) => existsSync(p));
}

t.test('actionlint passes on every workflow (with shellcheck on their run: scripts)', async (t) => {
  const actionlint = tool('actionlint');
  t.ok(actionlint, 'bin/actionlint exists (run make tools)');
  if (!actionlint) return;
  const r = spawnSync(actionlint, ['-no-color'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${join(ROOT, 'bin')}:${VENV_BIN}:${process.env.PATH ?? ''}` },
  });
  t.equal(r.status, 0, `actionlint:\n${r.stdout}${r.stderr}`);
});

/** Tracked and new (not ignored) files that are shell scripts, by extension or shebang. */
function shellScripts(): string[] {
  const ls = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' });
  return ls.stdout.split('\0').filter((f) => {
    if (!f || f.startsWith('node_modules/') || !existsSync(join(ROOT, f))) return false;
    if (/\.(sh|bash)$/.test(f)) return true;
    try {
      return /^#!.*\b(ba)?sh\b/.test(readFileSync(join(ROOT, f), 'utf8').slice(0, 100));
    } catch {
      return false;
    }
  });
}

t.test('shellcheck passes on every shell script', async (t) => {
  const shellcheck = tool('shellcheck');
  t.ok(shellcheck, 'shellcheck is installed in ./bin or ./.venv/bin (run make tools)');
  if (!shellcheck) return;
  const scripts = shellScripts();
  t.ok(scripts.includes('scripts/deploy/install-kubectl.sh'), `found the shell scripts: ${scripts.join(', ')}`);
  for (const f of scripts) {
    const r = spawnSync(shellcheck, ['--external-sources', f], { cwd: ROOT, encoding: 'utf8' });
    t.equal(r.status, 0, `shellcheck ${f}\n${r.stdout}${r.stderr}`);
  }
});

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  id?: string;
}
interface Job {
  needs?: string | string[];
  uses?: string;
  environment?: string | { name: string };
  permissions?: Record<string, string>;
  steps?: Step[];
  outputs?: Record<string, string>;
  'runs-on'?: string;
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

/** The local composite actions (.github/actions/<name>/action.yml) the workflows use, as [name, text, parsed]. */
function localActions(): Array<[string, string, { runs: { steps: Step[] } }]> {
  const dir = join(ROOT, '.github', 'actions');
  return readdirSync(dir).map((d) => {
    const text = readFileSync(join(dir, d, 'action.yml'), 'utf8');
    return [`actions/${d}/action.yml`, text, YAML.parse(text) as { runs: { steps: Step[] } }];
  });
}

function workflows(): Array<[string, string, Workflow]> {
  return readdirSync(WORKFLOWS)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => {
      const text = readFileSync(join(WORKFLOWS, f), 'utf8');
      return [f, text, YAML.parse(text) as Workflow];
    });
}

t.test('every action is pinned to a full commit SHA with its version in a comment, the same SHA everywhere', async (t) => {
  const pins = new Map<string, string>();
  let count = 0;
  for (const [file, text] of [...workflows(), ...localActions()]) {
    for (const line of text.split('\n')) {
      const m = /^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/.exec(line);
      if (!m?.[1] || m[1].startsWith('./')) continue;
      count += 1;
      const pinned = /^([\w.-]+\/[\w.-]+)@([0-9a-f]{40})$/.exec(m[1]);
      t.ok(pinned, `${file}: ${m[1]} is pinned by commit SHA`);
      t.match(m[2] ?? '', /# v\d+\.\d+\.\d+/, `${file}: ${m[1]} names its version`);
      if (!pinned?.[1] || !pinned[2]) continue;
      const seen = pins.get(pinned[1]);
      if (seen) t.equal(pinned[2], seen, `${pinned[1]} uses one SHA in every workflow`);
      pins.set(pinned[1], pinned[2]);
    }
  }
  t.ok(count >= 8, `${count} action references checked`);
  for (const a of ['actions/checkout', 'actions/setup-node', 'actions/setup-go', 'actions/setup-python', 'actions/cache', 'aws-actions/configure-aws-credentials', 'docker/setup-buildx-action']) {
    t.ok(pins.has(a), `${a} is used`);
  }
});

t.test('permissions are minimal: read-only by default, id-token only where AWS credentials are configured', async (t) => {
  for (const [file, text, wf] of workflows()) {
    t.strictSame(wf.permissions, { contents: 'read' }, `${file}: workflow-level permissions are contents: read`);
    t.notMatch(text, /secrets\.AWS_|aws-access-key-id|aws-secret-access-key/, `${file}: no stored AWS keys (OIDC only)`);
    for (const [name, job] of Object.entries(wf.jobs)) {
      const usesAws = (job.steps ?? []).some((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
      if (usesAws) {
        t.strictSame(job.permissions, { contents: 'read', 'id-token': 'write' }, `${file} ${name}: OIDC token, nothing else`);
        const aws = (job.steps ?? []).find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
        t.match(String(aws?.with?.['role-to-assume']), /^\$\{\{ vars\.AWS_DEPLOY_ROLE_ARN \}\}$/, `${file} ${name}: assumes the environment's deploy role`);
      } else {
        t.notOk(job.permissions && Object.values(job.permissions).includes('write'), `${file} ${name}: no write permission`);
      }
    }
  }
});

t.test('pull requests run every tier of make test as its own job, and the cluster suite on kind, with npm, Go, pip and tool caches', async (t) => {
  const [, , ci] = workflows().find(([f]) => f === 'ci.yml') ?? [];
  t.ok(ci, 'ci.yml exists');
  if (!ci) return;
  t.ok('pull_request' in ci.on, 'runs on pull requests');
  const tier = ci.jobs.tier as (Job & { strategy?: { matrix?: { tier?: string[] } } }) | undefined;
  t.same(tier?.strategy?.matrix?.tier, ['test-unit', 'lint', 'test-e2e', 'test-platform'], 'one job per tier (test-cluster runs in the kind job)');
  t.ok(tier?.steps?.some((s) => s.run === "make '${{ matrix.tier }}'"), 'each runs make <tier>');
  const checkout = tier?.steps?.find((s) => s.uses?.startsWith('actions/checkout@'));
  t.equal(checkout?.with?.['fetch-depth'], 0, 'the whole history, for the secret scan');
  const kind = ci.jobs.kind?.steps ?? [];
  const cluster = kind.find((s) => s.run === 'make test-cluster');
  t.ok(cluster, 'the kind job runs make test-cluster');
  for (const v of ['CLUSTER_KUBECONFIG', 'CLUSTER_INGRESS_URL', 'CLUSTER_INTERNAL_URL', 'CLUSTER_JAEGER_URL', 'CLUSTER_IMAGE']) {
    t.ok(cluster?.env?.[v], `pointed at kind with ${v}`);
  }
  t.ok(kind.some((s) => /docker build[\s\S]*kind load docker-image/.test(s.run ?? '')), 'the image is built from the Dockerfile and loaded into kind');
  t.ok(kind.some((s) => /helm upgrade --install/.test(s.run ?? '')), 'the chart is installed with helm');
  for (const job of [tier, ci.jobs.kind]) t.ok(job?.steps?.some((s) => s.uses === './.github/actions/setup'), 'uses the setup action');
  const [, , setup] = localActions().find(([f]) => f === 'actions/setup/action.yml') ?? [];
  const steps = setup?.runs.steps ?? [];
  const by = (prefix: string): Step | undefined => steps.find((s) => s.uses?.startsWith(prefix));
  t.equal(by('actions/setup-node@')?.with?.cache, 'npm', 'npm cache');
  t.equal(by('actions/setup-node@')?.with?.['node-version'], 24, 'Node 24');
  t.ok(by('actions/setup-go@')?.with?.['cache-dependency-path'], 'Go module and build cache');
  t.equal(by('actions/setup-python@')?.with?.cache, 'pip', 'pip cache');
  t.match(String(by('actions/cache@')?.with?.path), '~/.cache/knative-fn', 'the built tools are cached');
  t.match(String(by('actions/cache@')?.with?.key), "hashFiles('scripts/tools/versions.env', 'platform/versions.json', 'scripts/cluster/k8s/go.sum')", 'keyed on the pins');
});

t.test('main deploys dev after the tests, probes cold start, and promotes the same image to prod after approval', async (t) => {
  const [, , wf] = workflows().find(([f]) => f === 'deploy.yml') ?? [];
  t.ok(wf, 'deploy.yml exists');
  if (!wf) return;
  t.strictSame((wf.on.push as { branches: string[] }).branches, ['main']);
  t.equal(wf.jobs.test?.uses, './.github/workflows/ci.yml', 'the same checks as pull requests run first');
  const dev = wf.jobs['deploy-dev'];
  const prod = wf.jobs['deploy-prod'];
  t.equal(dev?.needs, 'test');
  t.equal(typeof dev?.environment === 'object' ? dev.environment.name : dev?.environment, 'dev');
  const devRuns = (dev?.steps ?? []).map((s) => s.run ?? '');
  t.ok(devRuns.includes('make deploy-dev'), 'dev job runs make deploy-dev');
  t.ok(devRuns.some((r) => r.startsWith('make coldstart ENV=dev')), 'dev job runs the cold-start probe');
  t.equal(dev?.outputs?.image, '${{ steps.deploy.outputs.image }}', 'dev job hands its image (by digest) to prod');
  t.equal(prod?.needs, 'deploy-dev');
  t.equal(typeof prod?.environment === 'object' ? prod.environment.name : prod?.environment, 'prod', 'prod waits for the prod environment (required reviewers)');
  const promote = (prod?.steps ?? []).find((s) => s.run === 'make deploy-prod');
  t.ok(promote, 'prod job runs make deploy-prod');
  t.equal(promote?.env?.CONFIRM, 'prod');
  t.equal(promote?.env?.PROMOTE_IMAGE, '${{ needs.deploy-dev.outputs.image }}', 'prod promotes the digest dev deployed');
  for (const step of prod?.steps ?? []) {
    t.notMatch(step.run ?? '', /buildx build|docker build|make deploy-dev/, `prod never builds: ${step.run ?? step.uses}`);
    t.notMatch(step.uses ?? '', /build-push-action/, 'prod never builds');
  }
});

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

t.test('install-kubectl.sh fetches the cluster minor version and checks its SHA-256', async (t) => {
  const h = new Harness(['curl']);
  t.teardown(() => h.cleanup());
  const minor = (JSON.parse(readFileSync(join(ROOT, 'platform', 'versions.json'), 'utf8')) as { kubernetes: { version: string } }).kubernetes.version;
  const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';
  const binary = '#!/bin/sh\necho kubectl stub\n';
  const base = 'https://releases.invalid';
  const version = `v${minor}.4`;
  const rules = (sum: string): Rule[] => [
    { tool: 'curl', args: ['-fsSL', `${base}/stable-${minor}.txt`], stdout: `${version}\n` },
    { tool: 'curl', includes: [`${base}/${version}/bin/linux/${arch}/kubectl`], writeArgFile: { flag: '-fsSLo', content: binary } },
    { tool: 'curl', includes: [`${base}/${version}/bin/linux/${arch}/kubectl.sha256`], writeArgFile: { flag: '-fsSLo', content: sum } },
  ];
  const dest = join(h.dir, 'out');
  const env = { ...h.env({ KUBECTL_RELEASES_URL: base }), PATH: `${h.bin}:${join(ROOT, 'node_modules', '.bin')}:/usr/bin:/bin` };
  const script = join(ROOT, 'scripts', 'deploy', 'install-kubectl.sh');

  h.rules(rules(`${sha256(binary)}\n`));
  let r = await runCli([dest], env, script, []);
  t.equal(r.code, 0, r.stderr);
  t.equal(readFileSync(join(dest, 'kubectl'), 'utf8'), binary, 'the checked binary is installed');
  t.match(r.stdout, `kubectl ${version} (${arch}) installed in ${dest}`);
  t.strictSame(h.argv().map((l) => l.replace(/-fsSLo \S+/, '-fsSLo <tmp>')), [
    `curl -fsSL ${base}/stable-${minor}.txt`,
    `curl -fsSLo <tmp> ${base}/${version}/bin/linux/${arch}/kubectl`,
    `curl -fsSLo <tmp> ${base}/${version}/bin/linux/${arch}/kubectl.sha256`,
  ]);

  h.rules(rules(`${sha256('something else')}\n`));
  r = await runCli([join(h.dir, 'out2')], env, script, []);
  t.equal(r.code, 1);
  t.match(r.stderr, `install-kubectl: checksum mismatch for kubectl ${version} (${arch})`);
  t.notOk(existsSync(join(h.dir, 'out2', 'kubectl')), 'nothing installed');
});
