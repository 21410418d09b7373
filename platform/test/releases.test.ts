// The Helm releases the platform installs, with the values Terraform passes them: for each environment, the
// composition's module inputs are resolved from that environment's values (platform/envs/<env>/main.tf), each
// helm_release's `values` expression is evaluated by OpenTofu itself (the module's variables.tf and the locals the
// expression uses, in a provider-free scratch root), and then
//   - the platform's own charts (platform/charts) are rendered with those values, checked by kubeconform -strict and
//     read back for the invariants people depend on (ingress class, NetworkPolicy switch, deploy role, volumes);
//   - the remote charts' values are checked against the keys those charts declare at the pinned versions
//     (fixtures/remote-chart-values.json) and for their invariants (DNS zone matching, Grafana's name, volumes).
// Remote charts cannot be fetched here, so they are not rendered.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { COMPOSITION, ENVS, PLATFORM, ROOT, output, parseDir, parseTfvars, run, tool, versions, type Body, type Env } from './helpers.ts';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: any; data?: Record<string, string>; rules?: any[]; subjects?: any[]; roleRef?: any };

const KMS_KEY_STAND_IN = 'arn:aws:kms:eu-west-1:111111111111:key/0b1e8c3e-1111-4222-8333-944445555666';

// Module outputs the composition wires into other modules. They are only known after apply; these stand-ins have the
// form the real values have (the collector URL is checked against the observability module's output below).
const MODULE_OUTPUTS: Record<string, unknown> = {
  'module.ingress.certificate_arn': 'arn:aws:acm:eu-west-1:111111111111:certificate/0b1e8c3e-1111-4222-8333-944445555666',
  'module.observability.collector_otlp_http_url': 'http://otel-collector.observability.svc.cluster.local:4318',
  'module.cluster_config.storage_class': 'gp3',
  'module.cluster.cluster_name': '<local.name>',
  'module.encryption.secrets_key_arn': KMS_KEY_STAND_IN,
};

const KOURIER_CLASS = 'kourier.ingress.networking.knative.dev';
const REMOTE = JSON.parse(readFileSync(join(PLATFORM, 'test', 'fixtures', 'remote-chart-values.json'), 'utf8')) as Record<string, { version: string; keys: Record<string, string[]> }>;

const first = (l: Body[] | undefined): Body => {
  if (!l || l.length !== 1) throw new Error(`expected one block, got ${l?.length ?? 0}`);
  return l[0] as Body;
};
const locals = (h: { locals?: Body[] }): Body => Object.assign({}, ...(h.locals ?? [])) as Body;
const whole = (s: unknown): string | undefined => (typeof s === 'string' ? /^\$\{([\s\S]*)\}$/.exec(s)?.[1] : undefined);

/** The inputs the composition passes one module call, for one environment. */
async function moduleInputs(env: Env, call: string): Promise<Record<string, unknown>> {
  const comp = await parseDir(COMPOSITION);
  const values = await parseTfvars(env);
  const vars = comp.variable ?? {};
  const loc = locals(comp);
  const name = `${values.project}-${values.environment}`;
  const resolve = (v: unknown, where: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => resolve(x, where));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x, `${where}.${k}`)]));
    const expr = whole(v);
    if (expr === undefined) return v;
    let m: RegExpExecArray | null;
    if ((m = /^var\.(\w+)$/.exec(expr))) return m[1]! in values ? values[m[1]!] : first(vars[m[1]!]).default;
    if ((m = /^local\.versions\.([\w.]+)$/.exec(expr))) return m[1]!.split('.').reduce<any>((o, k) => o?.[k], versions());
    if (expr === 'local.name') return name;
    if (expr === 'local.tags') return {};
    if ((m = /^local\.(\w+)$/.exec(expr)) && typeof loc[m[1]!] === 'string' && !whole(loc[m[1]!])) return loc[m[1]!];
    if (expr in MODULE_OUTPUTS) return MODULE_OUTPUTS[expr] === '<local.name>' ? name : MODULE_OUTPUTS[expr];
    throw new Error(`${where}: cannot resolve \${${expr}} (add a stand-in to MODULE_OUTPUTS in platform/test/releases.test.ts)`);
  };
  const args = first(comp.module?.[call]);
  return Object.fromEntries(
    Object.entries(args)
      .filter(([k]) => !['source', 'depends_on', 'providers'].includes(k))
      .map(([k, v]) => [k, resolve(v, `module.${call}.${k}`)]),
  );
}

/** HCL text of a value as hcl2json gives it back (a whole "${expr}" string is the expression itself). */
function hcl(v: unknown): string {
  const expr = whole(v);
  if (expr !== undefined) return expr;
  if (Array.isArray(v)) return `[${v.map(hcl).join(', ')}]`;
  if (v && typeof v === 'object') return `{ ${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)} = ${hcl(x)}`).join(', ')} }`;
  return JSON.stringify(v);
}

// References to data sources and resources are not evaluated (they need AWS): they become a placeholder string.
const stubRefs = (text: string): string => text.replace(/\b(data\.)?(aws|random|helm)_[a-z0-9_]+\.[a-z0-9_]+(\[\d+\])?\.[a-z_]+/g, '"stub"');

/**
 * Evaluates expressions of a module with OpenTofu in `dir` (which holds the module's variables.tf): the locals they
 * use are copied along, so the same functions, types and input validations apply as in a real plan.
 */
const LOCALS_CACHE: Record<string, Body> = {};
function evalIn(tofu: string, dir: string, src: string, exprs: Record<string, string>, inputs: Record<string, unknown>): Record<string, unknown> {
  const loc = LOCALS_CACHE[src] ?? {};
  const used = new Set<string>();
  const visit = (text: string) => {
    for (const m of text.matchAll(/\blocal\.(\w+)/g)) {
      const n = m[1] as string;
      if (used.has(n) || !(n in loc)) continue;
      used.add(n);
      visit(hcl(loc[n]));
    }
  };
  for (const e of Object.values(exprs)) visit(e);
  const lines = [`locals {`, ...[...used].map((n) => `  ${n} = ${stubRefs(hcl(loc[n]))}`), `}`];
  for (const [name, e] of Object.entries(exprs)) lines.push(`output "${name}" {`, `  value = ${stubRefs(e)}`, `}`);
  writeFileSync(join(dir, 'eval.tf'), `${lines.join('\n')}\n`);
  writeFileSync(join(dir, 'inputs.tfvars.json'), JSON.stringify(Object.fromEntries(Object.entries(inputs).filter(([k]) => readFileSync(join(dir, 'variables.tf'), 'utf8').includes(`variable "${k}"`)))));
  for (const args of [['init', '-input=false', '-no-color'], ['apply', '-input=false', '-no-color', '-auto-approve', '-var-file=inputs.tfvars.json']]) {
    const r = run(tofu, [`-chdir=${dir}`, ...args]);
    if (r.status !== 0) throw new Error(`tofu ${args[0]} of the values of ${src} failed\n${readFileSync(join(dir, 'eval.tf'), 'utf8')}\n${output(r)}`);
  }
  const r = run(tofu, [`-chdir=${dir}`, 'output', '-json', '-no-color']);
  // A CLI configuration warning (e.g. TF_CLI_CONFIG_FILE naming a missing file) may precede the JSON on stdout.
  const json = /^\{[\s\S]*\}\s*$/m.exec(r.stdout)?.[0];
  if (r.status !== 0 || !json) throw new Error(`tofu output -json of the values of ${src} failed\n${output(r)}`);
  const out = JSON.parse(json) as Record<string, { value: unknown }>;
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.value]));
}

interface Release {
  module: string;
  name: string;
  chart: string;
  remote: boolean;
  namespace: string;
  values: Record<string, any>;
}

/** Every helm_release of every module the composition calls, with its values evaluated for one environment. */
async function releases(tofu: string, env: Env, t: { teardown(fn: () => void): void }): Promise<Release[]> {
  const comp = await parseDir(COMPOSITION);
  const out: Release[] = [];
  for (const [call, bodies] of Object.entries(comp.module ?? {})) {
    const module = String(first(bodies).source).replace(/^\.\.\//, '');
    const src = join(PLATFORM, 'modules', module);
    const h = await parseDir(src);
    LOCALS_CACHE[src] = locals(h);
    const rels = Object.entries(h.resource?.helm_release ?? {});
    if (!rels.length) continue;
    const inputs = await moduleInputs(env, call);
    const exprs: Record<string, string> = {};
    for (const [name, rb] of rels) {
      const v = (first(rb).values as string[] | undefined)?.[0];
      if (v) exprs[name] = `yamldecode(${whole(v)})`;
    }
    const dir = mkdtempSync(join(tmpdir(), 'platform-eval-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'variables.tf'), readFileSync(join(src, 'variables.tf'), 'utf8'));
    const values = Object.keys(exprs).length ? evalIn(tofu, dir, src, exprs, inputs) : {};
    for (const [name, rb] of rels) {
      const r = first(rb);
      const ns = whole(r.namespace) ? String(evalIn(tofu, dir, src, { ns: whole(r.namespace) as string }, inputs).ns) : String(r.namespace);
      out.push({
        module,
        name,
        chart: r.repository ? String(r.chart) : String(r.chart).replace('${path.module}/../../charts/', ''),
        remote: Boolean(r.repository),
        namespace: ns,
        values: (values[name] as Record<string, any>) ?? {},
      });
    }
  }
  return out;
}

function template(t: { teardown(fn: () => void): void }, rel: Release): { objects: Obj[]; yaml: string; dir: string } {
  const helm = tool('helm');
  if (!helm) throw new Error('bin/helm is missing: run make tools');
  const dir = mkdtempSync(join(tmpdir(), 'platform-release-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'values.json'), JSON.stringify(rel.values));
  const r = run(helm, ['template', rel.name, join(PLATFORM, 'charts', rel.chart), '--namespace', rel.namespace, '-f', join(dir, 'values.json'), '--kube-version', `${versions().kubernetes.version}.0`]);
  if (r.status !== 0) throw new Error(`helm template ${rel.chart} failed\n${output(r)}`);
  return { objects: parseAllDocuments(r.stdout).map((d) => d.toJSON()).filter(Boolean) as Obj[], yaml: r.stdout, dir };
}

const SCHEMAS = join(ROOT, 'bin', 'schemas', 'k8s');
// Custom resources without a schema here: the operator's KnativeServing and Auto Mode's NodePool.
const NO_SCHEMA = ['KnativeServing', 'NodePool'];

/** Key paths of an object down to the depth the facts file lists (e.g. prometheus.prometheusSpec.*). */
function unknownKeys(values: Record<string, any>, known: Record<string, string[]>): string[] {
  const bad: string[] = [];
  const walk = (o: Record<string, any>, path: string) => {
    const list = known[path];
    if (!list) return;
    for (const [k, v] of Object.entries(o)) {
      const p = path ? `${path}.${k}` : k;
      if (!list.includes(k)) bad.push(p);
      else if (v && typeof v === 'object' && !Array.isArray(v)) walk(v, p);
    }
  };
  walk(values, '');
  return bad;
}

for (const env of ENVS) {
  t.test(`${env}: the platform's Helm releases with the values Terraform passes`, async (t) => {
    const tofu = tool('tofu');
    if (!tofu) return t.fail('bin/tofu is missing: run make tools');
    const envValues = await parseTfvars(env);
    const rels = await releases(tofu, env, t);
    const byName = (n: string): Release => {
      const r = rels.find((x) => x.name === n);
      if (!r) throw new Error(`no helm_release.${n}`);
      return r;
    };
    t.same(rels.map((r) => `${r.module}.${r.name}`).sort(), [
      'cluster-config.this',
      'ingress.external_dns',
      'knative.operator',
      'knative.serving',
      'observability.jaeger',
      'observability.kube_prometheus_stack',
      'observability.otel_collector',
    ], 'every release of the platform is here');

    // The platform's own charts: rendered, schema-checked, read back.
    const rendered: Record<string, Obj[]> = {};
    for (const rel of rels.filter((r) => !r.remote)) {
      const { objects, yaml, dir } = template(t, rel);
      rendered[rel.chart] = objects;
      const kc = tool('kubeconform');
      if (!kc) return t.fail('bin/kubeconform is missing: run make tools');
      writeFileSync(join(dir, 'manifests.yaml'), yaml);
      const r = run(kc, ['-strict', '-summary', '-skip', NO_SCHEMA.join(','), '-schema-location', `${SCHEMAS}/standard{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json`, join(dir, 'manifests.yaml')]);
      t.equal(r.status, 0, `${rel.chart}: kubeconform -strict\n${output(r)}`);
      t.match(r.stdout, /Invalid: 0, Errors: 0/, `${rel.chart}: no invalid object`);
    }

    // Knative: Kourier is installed, so Knative must be told to use it (without it, every Route's KIngress has
    // Istio's class and nothing reconciles it).
    const ks = rendered['knative-serving']?.find((o) => o.kind === 'KnativeServing');
    t.ok(ks, 'a KnativeServing is rendered');
    if (ks?.spec.ingress?.kourier?.enabled) t.equal(ks.spec.config?.network?.['ingress-class'], KOURIER_CLASS, 'Kourier enabled => config.network ingress-class is Kourier');
    t.same(ks?.spec.config?.domain, { [String(envValues.domain)]: '' }, "Knative serves the environment's domain");

    // The deploy role's group: the access entry's kubernetes_groups and the RoleBinding's subject are one name.
    const cc = rendered['cluster-config'] ?? [];
    const binding = cc.find((o) => o.kind === 'RoleBinding');
    const role = cc.find((o) => o.kind === 'Role' && o.metadata.name === binding?.roleRef?.name);
    const group = String(locals(await parseDir(COMPOSITION)).deploy_kubernetes_group);
    t.same(binding?.subjects, [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }], `the RoleBinding binds the deploy group ${group}`);
    t.equal(binding?.metadata.namespace, (await moduleInputs(env, 'cluster_config')).function_namespace, 'in the function namespace');
    const cluster = await parseDir(join(PLATFORM, 'modules', 'cluster'));
    t.match(JSON.stringify(locals(cluster).deploy_entry), /"kubernetes_groups":\["\$\{var\.deploy_kubernetes_group\}"\]/, 'the access entry carries the group');
    t.equal(first((await parseDir(COMPOSITION)).module?.cluster).deploy_kubernetes_group, '${local.deploy_kubernetes_group}', 'the same local reaches the cluster module');
    // Everything the function chart renders in a deploy must be allowed: core/apps/... by AmazonEKSEditPolicy
    // (its API groups, docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html), the rest by the Role.
    const EDIT_POLICY_GROUPS = ['', 'apps', 'autoscaling', 'batch', 'discovery.k8s.io', 'extensions', 'networking.k8s.io', 'policy'];
    const helm = tool('helm') as string;
    const fn = run(helm, ['template', 'fn', join(ROOT, 'chart'), '--namespace', 'functions', '--api-versions', 'monitoring.coreos.com/v1', '-f', join(ROOT, 'chart', 'test', 'fixtures', 'image-values.yaml'), '-f', join(PLATFORM, 'envs', env, 'function-values.yaml'), '-f', join(ROOT, 'chart', 'test', 'fixtures', 'platform-values.yaml')]);
    t.equal(fn.status, 0, `the function chart renders with ${env}'s deploy values${fn.status ? `\n${output(fn)}` : ''}`);
    const fnObjects = parseAllDocuments(fn.stdout).map((d) => d.toJSON()).filter(Boolean) as Obj[];
    const plural = (kind: string) => kind.toLowerCase().replace(/y$/, 'ie') + 's';
    for (const o of fnObjects) {
      const apiGroup = o.apiVersion.includes('/') ? (o.apiVersion.split('/')[0] as string) : '';
      if (EDIT_POLICY_GROUPS.includes(apiGroup)) continue;
      const ok = (role?.rules ?? []).some((r: any) => r.apiGroups.includes(apiGroup) && r.resources.includes(plural(o.kind)) && ['get', 'create', 'patch', 'update', 'delete'].every((v) => r.verbs.includes(v)));
      t.ok(ok, `${o.kind} (${apiGroup}): the deploy role may create, update and delete it`);
    }
    // And it may watch the Knative Service the deploy waits on.
    t.ok((role?.rules ?? []).some((r: any) => r.apiGroups.includes('serving.knative.dev') && r.resources.includes('services') && ['list', 'watch'].every((v) => r.verbs.includes(v))), 'kubectl wait ksvc works for it');

    // NetworkPolicy is enforced by the platform: the function's DNS rule must not depend on kube-dns pods (EKS Auto
    // Mode serves DNS from each node).
    const cni = cc.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'amazon-vpc-cni');
    if (cni?.data?.['enable-network-policy-controller'] === 'true') {
      const np = fnObjects.find((o) => o.kind === 'NetworkPolicy');
      const dns = (np?.spec.egress ?? []).filter((r: any) => (r.ports ?? []).some((p: any) => p.port === 53));
      t.ok(dns.length > 0 && dns.every((r: any) => !r.to || r.to.every((p: any) => !p.podSelector)), 'enforced NetworkPolicy: DNS egress not limited to pods (none serve DNS on Auto Mode)');
    }

    // Remote charts: every key passed exists in the chart at the pinned version.
    const pinned: Record<string, string> = { 'external-dns': versions().charts.externalDns, 'kube-prometheus-stack': versions().charts.kubePrometheusStack, 'opentelemetry-collector': versions().charts.opentelemetryCollector };
    for (const rel of rels.filter((r) => r.remote && Object.keys(r.values).length)) {
      const facts = REMOTE[rel.chart];
      t.ok(facts, `${rel.chart}: its value keys are known (fixtures/remote-chart-values.json)`);
      if (!facts) continue;
      t.equal(facts.version, pinned[rel.chart], `${rel.chart}: the known keys are those of the pinned version (refresh the fixture after a bump)`);
      t.same(unknownKeys(rel.values, facts.keys), [], `${rel.chart}: every key the platform passes is a key of the chart`);
    }

    // external-dns: the zone is usually a parent of the domain; external-dns skips it without --aws-zone-match-parent,
    // and --zone-id-filter keeps it on the zone its role may change.
    const edns = byName('external_dns').values;
    t.same(edns.domainFilters, [envValues.domain], 'external-dns: the domain');
    t.ok((edns.extraArgs ?? []).includes('--aws-zone-match-parent'), 'external-dns: a parent hosted zone is matched');
    t.ok((edns.extraArgs ?? []).includes(`--zone-id-filter=${envValues.route53_zone_id}`), "external-dns: only the environment's zone");

    // Grafana: the Service the outputs print is the Service the chart creates.
    const kps = byName('kube_prometheus_stack').values;
    const obs = await parseDir(join(PLATFORM, 'modules', 'observability'));
    LOCALS_CACHE[join(PLATFORM, 'modules', 'observability')] = locals(obs);
    const grafanaOut = hcl(first(obs.output?.grafana).value);
    const inputs = await moduleInputs(env, 'observability');
    const dir = mkdtempSync(join(tmpdir(), 'platform-eval-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'variables.tf'), readFileSync(join(PLATFORM, 'modules', 'observability', 'variables.tf'), 'utf8'));
    const printed = evalIn(tofu, dir, join(PLATFORM, 'modules', 'observability'), { grafana: grafanaOut, collector: hcl(first(obs.output?.collector_otlp_http_url).value) }, inputs);
    const g = printed.grafana as { service: string; port_forward: string };
    t.equal(kps.grafana?.fullnameOverride, g.service, `Grafana's Service is ${g.service}, the name the outputs print`);
    t.match(g.port_forward, new RegExp(`svc/${g.service} `), 'the printed port-forward uses it');
    t.equal(printed.collector, MODULE_OUTPUTS['module.observability.collector_otlp_http_url'], 'the collector URL stand-in is what the observability module outputs');
    // Grafana's password rotation only takes effect without a persisted database (see modules/observability).
    t.equal(kps.grafana?.persistence?.enabled, false, 'Grafana keeps no database volume, so a new admin password applies at the restart it triggers');

    // Volumes: what a destroy of this environment leaves behind is only what it keeps on purpose.
    const pvcs = [
      ...(kps.prometheus?.prometheusSpec?.storageSpec ? ['Prometheus'] : []),
      ...((rendered['jaeger'] ?? []).some((o) => o.kind === 'PersistentVolumeClaim') ? ['Jaeger'] : []),
    ];
    if (env === 'dev') t.same(pvcs, [], 'dev requests no volume: make destroy-dev leaves nothing behind');
    else t.same(pvcs, ['Prometheus', 'Jaeger'], 'prod keeps Prometheus and Jaeger data on volumes (kept after a destroy, on purpose)');
  });
}
