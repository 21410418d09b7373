// The platform's own small charts (platform/charts): KnativeServing + the Kourier NLB,
// cluster-wide config, Jaeger. Rendered with helm, checked against the Kubernetes
// schemas of the platform's version with kubeconform -strict, and read back to assert
// what the cluster will get.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { PLATFORM, ROOT, output, run, tool, versions } from './helpers.ts';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; spec?: any; data?: Record<string, string> };

const CHARTS = join(PLATFORM, 'charts');
const SCHEMAS = join(ROOT, 'bin', 'schemas', 'k8s');
// Custom resources without a schema here: the operator's KnativeServing and Auto Mode's NodePool.
const NO_SCHEMA = ['KnativeServing', 'NodePool'];

const KNATIVE_VALUES = (v = versions().knative.release) => ({
  version: v,
  domain: 'dev.fn.example.com',
  highAvailabilityReplicas: 2,
  autoscaler: { scaleToZeroGracePeriod: '30s', scaleToZeroPodRetentionPeriod: '0s' },
  observability: { collectorUrl: 'http://otel-collector.observability.svc.cluster.local:4318', tracingSamplingRate: '0.1' },
  loadBalancer: { certificateArn: 'arn:aws:acm:eu-west-1:111111111111:certificate/abc' },
});

function template(t: { teardown(fn: () => void): void }, chart: string, values: object, namespace: string) {
  const helm = tool('helm');
  if (!helm) throw new Error('bin/helm is missing: run make tools');
  const dir = mkdtempSync(join(tmpdir(), 'platform-chart-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'values.json');
  writeFileSync(file, JSON.stringify(values));
  const r = run(helm, ['template', chart, join(CHARTS, chart), '--namespace', namespace, '-f', file, '--kube-version', `${versions().kubernetes.version}.0`]);
  const objects = r.status === 0 ? (parseAllDocuments(r.stdout).map((d) => d.toJSON()).filter(Boolean) as Obj[]) : [];
  return { r, objects, yaml: r.stdout, dir };
}

function kubeconform(t: Tap, yaml: string, dir: string, label: string) {
  const kc = tool('kubeconform');
  if (!kc) return t.fail('bin/kubeconform is missing: run make tools');
  const file = join(dir, 'manifests.yaml');
  writeFileSync(file, yaml);
  const r = run(kc, ['-strict', '-summary', '-skip', NO_SCHEMA.join(','), '-schema-location', `${SCHEMAS}/standard{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json`, file]);
  t.equal(r.status, 0, `${label}: kubeconform -strict passes\n${output(r)}`);
  t.match(r.stdout, /Invalid: 0, Errors: 0/, `${label}: no invalid object`);
}
type Tap = { equal: (...a: any[]) => void; match: (...a: any[]) => void; fail: (m: string) => void };

t.test('helm lint --strict on every platform chart', async (t) => {
  const helm = tool('helm');
  if (!helm) return t.fail('bin/helm is missing: run make tools');
  const values: Record<string, object> = {
    'knative-serving': KNATIVE_VALUES(),
    'cluster-config': {},
    jaeger: { image: { tag: versions().images.jaeger } },
  };
  for (const [chart, v] of Object.entries(values)) {
    const dir = mkdtempSync(join(tmpdir(), 'lint-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'v.json'), JSON.stringify(v));
    const r = run(helm, ['lint', '--strict', join(CHARTS, chart), '-f', join(dir, 'v.json')]);
    t.equal(r.status, 0, `${chart}: helm lint --strict\n${output(r)}`);
  }
});

t.test('knative-serving: the operator gets the pinned release and the product configuration', async (t) => {
  const { r, objects, yaml, dir } = template(t, 'knative-serving', KNATIVE_VALUES(), 'knative-serving');
  t.equal(r.status, 0, output(r));
  kubeconform(t, yaml, dir, 'knative-serving');
  const ks = objects.find((o) => o.kind === 'KnativeServing');
  t.equal(ks?.apiVersion, 'operator.knative.dev/v1beta1');
  t.equal(ks?.spec.version, versions().knative.release, 'spec.version is platform/versions.json knative.release');
  t.same(ks?.spec.ingress, { kourier: { enabled: true, 'service-type': 'ClusterIP' } }, 'Kourier, internal; the NLB Service fronts it');
  const cfg = ks?.spec.config;
  t.equal(cfg.autoscaler['enable-scale-to-zero'], 'true');
  t.equal(cfg.autoscaler['scale-to-zero-grace-period'], '30s');
  t.same(cfg.domain, { 'dev.fn.example.com': '' });
  t.equal(cfg.network['domain-template'], '{{.Name}}-{{.Namespace}}.{{.Domain}}', 'one DNS label per service: the wildcard certificate covers it');
  t.equal(cfg.network['default-external-scheme'], 'https');
  t.equal(cfg.features['secure-pod-defaults'], 'enabled');
  t.equal(cfg.features['kubernetes.podspec-volumes-emptydir'], 'enabled', "the chart's /tmp emptyDir");
  t.ok(Object.entries(cfg.features).every(([k, v]) => v === 'disabled' || k === 'secure-pod-defaults' || k === 'kubernetes.podspec-volumes-emptydir'), 'every other feature gate closed');
  t.equal(cfg.observability['tracing-endpoint'], 'http://otel-collector.observability.svc.cluster.local:4318/v1/traces');
  t.equal(cfg.observability['metrics-endpoint'], 'http://otel-collector.observability.svc.cluster.local:4318/v1/metrics');
  t.equal(cfg.observability['tracing-protocol'], 'http/protobuf');
  t.equal(ks?.spec['high-availability'].replicas, 2);
  const nlb = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'kourier-nlb');
  const a = nlb?.metadata.annotations ?? {};
  t.equal(nlb?.spec.type, 'LoadBalancer');
  t.equal(nlb?.spec.loadBalancerClass, 'eks.amazonaws.com/nlb', 'EKS Auto Mode load balancing');
  t.equal(a['service.beta.kubernetes.io/aws-load-balancer-ssl-cert'], 'arn:aws:acm:eu-west-1:111111111111:certificate/abc');
  t.equal(a['service.beta.kubernetes.io/aws-load-balancer-scheme'], 'internet-facing');
  t.equal(a['external-dns.alpha.kubernetes.io/hostname'], '*.dev.fn.example.com', 'external-dns publishes the wildcard record');
  t.same(nlb?.spec.selector, { app: '3scale-kourier-gateway' });
  t.same(nlb?.spec.ports, [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 8080 }], 'TLS only, ends at the NLB');
});

t.test('knative-serving refuses to render without a version, domain or certificate', async (t) => {
  for (const [key, patch] of [
    ['version', { version: '' }],
    ['domain', { domain: '' }],
    ['certificateArn', { loadBalancer: { certificateArn: '' } }],
  ] as const) {
    const { r } = template(t, 'knative-serving', { ...KNATIVE_VALUES(), ...patch }, 'knative-serving');
    t.not(r.status, 0, `missing ${key} fails`);
    t.match(r.stderr, new RegExp(`${key} is required`), output(r));
  }
});

t.test('cluster-config: default encrypted gp3, the workload NodePool, the restricted function namespace', async (t) => {
  const values = { functionNamespace: 'functions', nodePool: { capacityTypes: ['spot', 'on-demand'], instanceCategories: ['c'], instanceSizes: ['large'], architecture: 'arm64', cpuLimit: 16 } };
  const { r, objects, yaml, dir } = template(t, 'cluster-config', values, 'kube-system');
  t.equal(r.status, 0, output(r));
  kubeconform(t, yaml, dir, 'cluster-config');
  const sc = objects.find((o) => o.kind === 'StorageClass') as any;
  t.equal(sc?.provisioner, 'ebs.csi.eks.amazonaws.com');
  t.equal(sc?.parameters.encrypted, 'true');
  t.equal(sc?.metadata.annotations['storageclass.kubernetes.io/is-default-class'], 'true');
  const np = objects.find((o) => o.kind === 'NodePool');
  const req = Object.fromEntries((np?.spec.template.spec.requirements as { key: string; values: string[] }[]).map((x) => [x.key, x.values]));
  t.same(req['karpenter.sh/capacity-type'], ['spot', 'on-demand']);
  t.same(req['kubernetes.io/arch'], ['arm64']);
  t.equal(np?.spec.disruption.consolidationPolicy, 'WhenEmptyOrUnderutilized', 'empty nodes go away: scale to zero frees them');
  const ns = objects.find((o) => o.kind === 'Namespace') as any;
  t.equal(ns?.metadata.name, 'functions');
  t.equal(ns?.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
});

t.test('jaeger: memory in dev, Badger on a kept volume in prod', async (t) => {
  const tag = versions().images.jaeger;
  const mem = template(t, 'jaeger', { image: { tag } }, 'observability');
  t.equal(mem.r.status, 0, output(mem.r));
  kubeconform(t, mem.yaml, mem.dir, 'jaeger (memory)');
  t.notOk(mem.objects.some((o) => o.kind === 'PersistentVolumeClaim'), 'memory: no volume');
  const memCfg = parseAllDocuments(mem.objects.find((o) => o.kind === 'ConfigMap')?.data?.['config.yaml'] ?? '')[0]?.toJSON();
  t.ok(memCfg.extensions.jaeger_storage.backends.traces.memory, 'memory backend');

  const badger = template(t, 'jaeger', { image: { tag }, storage: { type: 'badger', size: '50Gi' } }, 'observability');
  t.equal(badger.r.status, 0, output(badger.r));
  kubeconform(t, badger.yaml, badger.dir, 'jaeger (badger)');
  const pvc = badger.objects.find((o) => o.kind === 'PersistentVolumeClaim');
  t.equal(pvc?.spec.resources.requests.storage, '50Gi');
  t.equal(pvc?.metadata.annotations?.['helm.sh/resource-policy'], 'keep', 'the volume outlives a helm uninstall');
  const cfg = parseAllDocuments(badger.objects.find((o) => o.kind === 'ConfigMap')?.data?.['config.yaml'] ?? '')[0]?.toJSON();
  t.same(cfg.extensions.jaeger_storage.backends.traces.badger.directories, { keys: '/data/keys', values: '/data/values' });
  t.equal(cfg.extensions.jaeger_storage.backends.traces.badger.ephemeral, false);
  const deploy = badger.objects.find((o) => o.kind === 'Deployment');
  t.equal(deploy?.spec.strategy.type, 'Recreate', 'never two pods on one Badger volume');
  t.equal(deploy?.spec.template.spec.containers[0].image, `jaegertracing/jaeger:${tag}`);
  t.equal(deploy?.spec.template.spec.securityContext.runAsNonRoot, true);
  const bad = template(t, 'jaeger', { image: { tag }, storage: { type: 'cassandra' } }, 'observability');
  t.not(bad.r.status, 0, 'an unknown storage type is refused');
});

// Every key the KnativeServing sets must be one Knative itself documents in its example
// ConfigMaps at the pinned release (knative.dev/serving at versions.json servingModule and
// the knative.dev/networking version it requires): a misspelt key would be silently ignored.
t.test("every config key of the KnativeServing exists in Knative's own ConfigMaps at the pinned release", async (t) => {
  const go = process.env.GO ?? 'go';
  const dl = (mod: string) => {
    const r = run(go, ['mod', 'download', '-json', mod], { env: { GOFLAGS: '-mod=mod' } });
    if (r.status !== 0) throw new Error(`go mod download ${mod} failed (run make tools)\n${output(r)}`);
    return (JSON.parse(r.stdout) as { Dir: string }).Dir;
  };
  let serving: string;
  let networking: string;
  try {
    serving = dl(`knative.dev/serving@${versions().knative.servingModule}`);
    const netVersion = /knative\.dev\/networking (\S+)/.exec(readFileSync(join(serving, 'go.mod'), 'utf8'))?.[1];
    networking = dl(`knative.dev/networking@${netVersion}`);
  } catch (e) {
    return t.fail(String(e));
  }
  const known = (file: string): Set<string> => {
    const text = readFileSync(file, 'utf8');
    return new Set([...text.matchAll(/^\s+#?\s*"?([a-z][a-z0-9.-]+)"?:\s/gm)].map((m) => m[1] as string));
  };
  const sources: Record<string, string> = {
    features: join(serving, 'config', 'core', 'configmaps', 'features.yaml'),
    autoscaler: join(serving, 'config', 'core', 'configmaps', 'autoscaler.yaml'),
    observability: join(serving, 'config', 'core', 'configmaps', 'observability.yaml'),
    network: join(networking, 'config', 'config-network.yaml'),
  };
  const { r, objects } = template(t, 'knative-serving', KNATIVE_VALUES(), 'knative-serving');
  t.equal(r.status, 0, output(r));
  const config = objects.find((o) => o.kind === 'KnativeServing')?.spec.config as Record<string, Record<string, string>>;
  for (const [section, file] of Object.entries(sources)) {
    const keys = known(file);
    for (const key of Object.keys(config[section] ?? {})) t.ok(keys.has(key), `config-${section}: ${key} is a Knative key`);
  }
  t.notOk(known(sources.features as string).has('no-such-knative-key'), 'the key list is real (a made-up key is absent)');
});

// The values each module passes (yamlencode({...}) in its helm_release) use only keys the
// local chart declares in values.yaml: a renamed value would otherwise be silently ignored.
t.test('modules pass local charts only values the charts declare', async (t) => {
  const { parse } = await import('yaml');
  const { parseDir } = await import('./helpers.ts');
  const releases: [string, string, string][] = [
    ['knative', 'serving', 'knative-serving'],
    ['cluster-config', 'this', 'cluster-config'],
    ['observability', 'jaeger', 'jaeger'],
  ];
  for (const [module, release, chart] of releases) {
    const h = await parseDir(join(PLATFORM, 'modules', module));
    const values = String(((h.resource?.helm_release?.[release]?.[0] as Record<string, unknown>).values as string[])[0]);
    const declared = parse(readFileSync(join(CHARTS, chart, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    // Keys are `name =` at any depth of the HCL object; nested ones must exist under some declared parent.
    const keys = [...values.matchAll(/([A-Za-z][A-Za-z0-9]*)\s*=\s/g)].map((m) => m[1] as string);
    t.ok(keys.length > 0, `${module}: values found`);
    const all = new Set<string>();
    const walk = (o: unknown) => {
      if (o && typeof o === 'object' && !Array.isArray(o)) for (const [k, v] of Object.entries(o)) (all.add(k), walk(v));
    };
    walk(declared);
    for (const k of keys) t.ok(all.has(k), `${module} -> charts/${chart}: value ${k} is declared in values.yaml`);
  }
});
