// Shared helpers of the chart tests: where the tools and sources are, rendering the chart, reading the one-home
// files (chart/files/contract.json, platform/versions.json). Not a test file itself (no `.test.ts`).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART = join(ROOT, 'chart');
export const BIN = join(ROOT, 'bin');

/** A rendered Kubernetes object (loosely typed: tests navigate it and assert on what they find). */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  data?: Record<string, string>;
};

export type Contract = {
  ports: { http: number; metrics: number };
  probes: { liveness: string; readiness: string };
  metricsPath: string;
  reservedPorts: number[];
};

export type Versions = {
  knative: { release: string; servingModule: string; operatorChart: string };
  kubernetes: { version: string; k8sGoModules: string };
};

export const contract = (): Contract => JSON.parse(readFileSync(join(ROOT, 'chart/files/contract.json'), 'utf8'));
export const versions = (): Versions => JSON.parse(readFileSync(join(ROOT, 'platform/versions.json'), 'utf8'));

/** Release name and namespace every test renders with. */
export const RELEASE = 'fn';
export const NAMESPACE = 'functions';

/** The deploy environments: each platform/envs/<env>/function-values.yaml, what a deploy of <env> passes. */
const ENVS_DIR = join(ROOT, 'platform', 'envs');
export const deployEnvs = (): string[] => readdirSync(ENVS_DIR).filter((e) => existsSync(join(ENVS_DIR, e, 'function-values.yaml'))).sort();

/** The scenarios: every chart/ci/<name>-values.yaml, and every deploy environment by its name. */
export const scenarios = (): string[] =>
  [
    ...readdirSync(join(CHART, 'ci'))
      .filter((f) => f.endsWith('-values.yaml'))
      .map((f) => f.replace(/-values\.yaml$/, '')),
    ...deployEnvs(),
  ].sort();

/** The values file of a scenario: chart/ci/<name>-values.yaml, or a deploy environment's own. */
export const scenarioFile = (scenario: string): string =>
  deployEnvs().includes(scenario) ? join(ENVS_DIR, scenario, 'function-values.yaml') : join(CHART, 'ci', `${scenario}-values.yaml`);

/** What the platform's chart_values output adds to a deploy environment's values (an example of it). */
const PLATFORM_VALUES = join(CHART, 'test', 'fixtures', 'platform-values.yaml');

/** The image a deploy passes with --set, layered under every scenario (a scenario may override it). */
export const IMAGE_VALUES = join(CHART, 'test/fixtures/image-values.yaml');

export type RunResult = { status: number | null; stdout: string; stderr: string; output: string; ms: number };

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): RunResult {
  const started = Date.now();
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? process.env,
    input: opts.input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const stdout = r.stdout ?? '';
  const stderr = (r.stderr ?? '') + (r.error ? String(r.error) : '');
  return { status: r.status, stdout, stderr, output: `${stdout}\n${stderr}`.trim(), ms: Date.now() - started };
}

/** Path of a tool installed by `make tools`, or an Error whose message tells what to do. */
export function tool(name: string, where: 'bin' | 'venv' = 'bin'): string {
  const p = where === 'bin' ? join(BIN, name) : join(ROOT, '.venv/bin', name);
  if (!existsSync(p)) throw new Error(`${p} is missing: run make tools`);
  return p;
}

/** helm's flags for an offline render: the cluster version and API groups the platform installs. */
export function helmCapabilities(): string[] {
  return [
    '--kube-version',
    versions().kubernetes.version,
    '--api-versions',
    'serving.knative.dev/v1',
    '--api-versions',
    'serving.knative.dev/v1beta1',
    '--api-versions',
    'monitoring.coreos.com/v1',
  ];
}

/** Value files for a scenario: the deploy-time image first, then the scenario (later files win). */
export const valueFiles = (scenario: string): string[] => [
  '-f',
  IMAGE_VALUES,
  '-f',
  scenarioFile(scenario),
  ...(deployEnvs().includes(scenario) ? ['-f', PLATFORM_VALUES] : []),
];

/** `helm template` with extra arguments; returns the raw result (tests assert on status and output). */
export function helmTemplate(args: string[]): RunResult {
  return run(tool('helm'), ['template', RELEASE, CHART, '--namespace', NAMESPACE, ...helmCapabilities(), ...args]);
}

/** Renders a scenario and parses it, throwing with helm's output when rendering fails. */
export function render(scenario: string, extra: string[] = []): { yaml: string; objects: K8sObject[] } {
  const r = helmTemplate([...valueFiles(scenario), ...extra]);
  if (r.status !== 0) throw new Error(`helm template (${scenario}) failed:\n${r.output}`);
  return { yaml: r.stdout, objects: parseObjects(r.stdout) };
}

export function parseObjects(yamlText: string): K8sObject[] {
  return parseAllDocuments(yamlText)
    .map((d) => {
      if (d.errors.length) throw new Error(`rendered YAML does not parse: ${d.errors.map(String).join('; ')}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

export const byKind = (objects: K8sObject[], kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);

/** The one Knative Service of a render. */
export function knativeService(objects: K8sObject[]): K8sObject {
  const s = objects.filter((o) => o.kind === 'Service' && o.apiVersion === 'serving.knative.dev/v1');
  if (s.length !== 1) throw new Error(`expected one Knative Service, found ${s.length}`);
  return s[0]!;
}

/** A fresh temporary directory. */
export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `chart-${prefix}-`));

export function writeTemp(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Source directory of the pinned knative.dev/serving module (downloaded through the Go module proxy if needed). */
export function knativeModuleDir(): string {
  const mod = `knative.dev/serving@${versions().knative.servingModule}`;
  const dir = join(run('go', ['env', 'GOMODCACHE']).stdout.trim(), mod);
  if (!existsSync(dir)) {
    const r = run('go', ['mod', 'download', mod], { cwd: join(ROOT, 'scripts/knative-validate') });
    if (r.status !== 0 || !existsSync(dir)) throw new Error(`cannot download ${mod} (${r.output}): check the Go module proxy, then run make tools`);
  }
  return dir;
}
