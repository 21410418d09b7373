/**
 * Knative Serving on the local cluster: Knative's own release manifests (config/core of knative.dev/serving, the
 * networking and caching CRDs), straight from the Go module cache at the versions the cluster's module pins, with
 * the configuration the platform gives it. That configuration is read from the platform's own KnativeServing
 * (`helm template platform/charts/knative-serving`) and applied the way the Knative Operator applies
 * `spec.config.<name>`: as data merged into the `config-<name>` ConfigMap. A platform change that breaks Knative's
 * configuration therefore breaks the local cluster too.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { K8S_MODULE, requiredVersion } from './build.ts';
import { ROOT } from './layout.ts';

export interface KnativeServingSpec {
  version?: string;
  'high-availability'?: { replicas?: number };
  ingress?: Record<string, { enabled?: boolean }>;
  config?: Record<string, Record<string, string>>;
}

export interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  data?: Record<string, string>;
  [key: string]: unknown;
}

/** Where `go mod download` keeps a module of the k8s module's build list. */
export function moduleDir(module: string): string {
  const version = requiredVersion(module);
  const out = execFileSync('go', ['mod', 'download', '-json', `${module}@${version}`], {
    cwd: K8S_MODULE,
    encoding: 'utf8',
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-buildvcs=false' },
  });
  const info = JSON.parse(out) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${module}@${version}: ${info.Error ?? 'no directory'}`);
  return info.Dir;
}

/** The platform's KnativeServing, rendered by helm from platform/charts/knative-serving with the given values. */
export function platformKnativeServing(helm: string, valuesFile: string): KnativeServingSpec {
  const versions = JSON.parse(readFileSync(join(ROOT, 'platform', 'versions.json'), 'utf8')) as { knative: { release: string } };
  const rendered = execFileSync(
    helm,
    ['template', 'knative-serving', join(ROOT, 'platform', 'charts', 'knative-serving'), '--namespace', 'knative-serving',
      '--set-string', `version=${versions.knative.release}`, '--values', valuesFile],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const docs = parseAllDocuments(rendered).map((d) => d.toJS() as Manifest | null);
  const ks = docs.find((d) => d?.kind === 'KnativeServing');
  if (!ks) throw new Error('platform/charts/knative-serving rendered no KnativeServing');
  return (ks.spec ?? {}) as KnativeServingSpec;
}

function yamlDocs(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as Manifest | null)
    .filter((d): d is Manifest => d !== null && typeof d === 'object' && typeof d.kind === 'string');
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(dir, f));
}

/** The release manifests, in the order they must be applied. */
export interface KnativeRelease {
  namespace: Manifest[];
  crds: Manifest[];
  rbac: Manifest[];
  config: Manifest[];
  webhooks: Manifest[];
  workloads: Manifest[];
}

export function knativeRelease(spec: KnativeServingSpec): KnativeRelease {
  const serving = join(moduleDir('knative.dev/serving'), 'config', 'core');
  const networking = join(moduleDir('knative.dev/networking'), 'config');
  const caching = join(moduleDir('knative.dev/caching'), 'config');
  const from = (files: string[]): Manifest[] => files.flatMap(yamlDocs);
  const config = applyConfig(
    from([...yamlFiles(join(serving, 'configmaps')), join(networking, 'config-network.yaml')]),
    spec.config ?? {},
  );
  const replicas = spec['high-availability']?.replicas;
  const workloads = from(yamlFiles(join(serving, 'deployments'))).map((m) =>
    m.kind === 'Deployment' && replicas ? { ...m, spec: { ...(m.spec as object), replicas } } : m,
  );
  return {
    namespace: from([join(serving, '100-namespace.yaml')]),
    crds: from([
      ...yamlFiles(join(serving, '300-resources')),
      join(networking, 'certificate.yaml'),
      join(networking, 'ingress.yaml'),
      join(networking, 'serverlessservice.yaml'),
      join(networking, 'domain-claim.yaml'),
      join(caching, 'image.yaml'),
    ]),
    rbac: from([join(serving, '200-serviceaccount.yaml'), ...yamlFiles(join(serving, '200-roles'))]),
    config,
    webhooks: from(yamlFiles(join(serving, 'webhooks'))),
    workloads: [...workloads, ...from([join(serving, '999-cache.yaml')])],
  };
}

/**
 * `spec.config.<name>` of a KnativeServing merged into ConfigMap `config-<name>` (the operator's rule); a name with
 * no such ConfigMap in the release is an error, as a typo there would otherwise be silently ignored.
 */
export function applyConfig(configMaps: Manifest[], config: Record<string, Record<string, string>>): Manifest[] {
  const byName = new Map(configMaps.filter((m) => m.kind === 'ConfigMap').map((m) => [m.metadata?.name ?? '', m]));
  for (const [name, data] of Object.entries(config)) {
    const cm = byName.get(`config-${name}`);
    if (!cm) throw new Error(`the KnativeServing sets spec.config.${name}, but Knative ${'has no ConfigMap'} config-${name}`);
    cm.data = { ...(cm.data ?? {}), ...Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, String(v)])) };
  }
  return configMaps;
}

export function toYaml(manifests: Manifest[]): string {
  return manifests.map((m) => stringify(m)).join('---\n');
}
