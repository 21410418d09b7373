// The deploy's contracts with its neighbours, checked against their real files: the platform's `deploy` outputs and
// SSM parameter name (platform/modules/platform, platform/envs/*), and the chart, rendered by the real helm with exactly
// the values a deploy sets.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import YAML from 'yaml';
import type { Context } from '../deploy/lib/config.ts';
import { CONTAINER, helmValues } from '../deploy/lib/flows.ts';
import { outputsParameter, parseOutputs } from '../deploy/lib/platform.ts';
import { DIGEST, REPO, ROOT, platformOutputs } from './deploy-harness.ts';

const ctx: Context = { root: ROOT, log: { out: () => {}, err: () => {} }, env: {} };
const ENVS = ['dev', 'prod'] as const;
/** Keys of the platform's `deploy` object the deploy reads (parseOutputs requires the first six). */
const NEEDED = ['cluster_name', 'region', 'ecr_repository_url', 'namespace', 'service_name', 'service_account', 'secret_arns', 'node_architecture', 'otel_collector_url', 'grafana', 'jaeger'];

t.test('the platform publishes every output the deploy reads, where it reads them', async (t) => {
  const dir = join(ROOT, 'platform', 'modules', 'platform');
  const outputsTf = readFileSync(join(dir, 'outputs.tf'), 'utf8');
  const block = /deploy_outputs\s*=\s*\{([\s\S]*?)\n {2}\}\n/.exec(outputsTf)?.[1] ?? '';
  const keys = [...block.matchAll(/^ {4}(\w+)\s*=/gm)].map((m) => m[1]);
  for (const k of NEEDED) t.ok(keys.includes(k), `deploy_outputs has ${k}`);
  const mainTf = readFileSync(join(dir, 'main.tf'), 'utf8');
  t.match(mainTf, /outputs_parameter_name\s*=\s*"\/\$\{var\.project\}\/\$\{var\.environment\}\/platform-outputs"/, 'the SSM parameter is /<project>/<env>/platform-outputs');
  t.match(mainTf, /value\s*=\s*jsonencode\(local\.deploy_outputs\)/, 'it holds the deploy object as JSON');
  for (const env of ENVS) {
    t.match(readFileSync(join(ROOT, 'platform', 'envs', env, 'main.tf'), 'utf8'), /output "deploy" \{[^}]*value\s*=\s*module\.platform\.deploy/, `envs/${env}: tofu output deploy`);
    const p = outputsParameter(ctx, env);
    t.match(p.name, new RegExp(`^/[a-z0-9-]+/${env}/platform-outputs$`));
    t.match(p.region, /^[a-z]{2}-[a-z]+-\d$/);
  }
});

// The chart_values object is handed to helm as is: its keys must be values the chart declares, and it must carry
// everything a deploy used to set from the platform's outputs.
t.test("the platform's chart_values are chart values, and cover what only the platform knows", async (t) => {
  const outputsTf = readFileSync(join(ROOT, 'platform', 'modules', 'platform', 'outputs.tf'), 'utf8');
  const block = /chart_values = \{([\s\S]*?)\n {4}\}\n/.exec(outputsTf)?.[1] ?? '';
  const schema = JSON.parse(readFileSync(join(ROOT, 'chart', 'values.schema.json'), 'utf8')) as { properties: Record<string, { properties?: Record<string, unknown> }> };
  const paths: string[] = [];
  const stack: string[] = [];
  for (const line of block.split('\n')) {
    const open = /^\s*(\w+)\s*=\s*\{\s*$/.exec(line);
    const inline = /^\s*(\w+)\s*=\s*\{\s*(\w+)\s*=/.exec(line);
    const leaf = /^\s*(\w+)\s*=\s*[^{]/.exec(line);
    if (open) stack.push(open[1] as string);
    else if (inline) paths.push(`${inline[1]}.${inline[2]}`);
    else if (leaf) paths.push([...stack, leaf[1]].join('.'));
    if (/^\s*\}\s*$/.test(line)) stack.pop();
  }
  t.same(paths.sort(), ['fullnameOverride', 'function.awsRegion', 'function.secrets', 'serviceAccount.name', 'telemetry.otlpEndpoint'], 'release name, region, secrets, service account, collector');
  for (const p of paths) {
    const [top, sub] = p.split('.') as [string, string | undefined];
    t.ok(schema.properties[top] && (!sub || schema.properties[top]?.properties?.[sub]), `${p} is declared in chart/values.schema.json`);
  }
});

t.test('the chart accepts exactly the values a deploy sets, and renders the image by digest', async (t) => {
  const helm = join(ROOT, 'bin', 'helm');
  t.ok(existsSync(helm), 'bin/helm exists (run make tools)');
  if (!existsSync(helm)) return;
  const k8s = (JSON.parse(readFileSync(join(ROOT, 'platform', 'versions.json'), 'utf8')) as { kubernetes: { version: string } }).kubernetes.version;
  for (const env of ENVS) {
    const arns = ['arn:aws:secretsmanager:eu-west-1:123456789012:secret:a-AbCdEf', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:b-AbCdEf'];
    const out = parseOutputs(platformOutputs(env, { secret_arns: arns }), env);
    const args = ['template', out.serviceName, join(ROOT, 'chart'), '--namespace', out.namespace, '--kube-version', k8s, ...helmValues(ctx, env, out, REPO, DIGEST)];
    const r = spawnSync(helm, args, { cwd: ROOT, encoding: 'utf8' });
    t.equal(r.status, 0, `helm template (${env}):\n${r.stderr}`);
    if (r.status !== 0) continue;
    const docs = YAML.parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind?: string; apiVersion?: string; metadata?: { name?: string }; spec?: any });
    const ksvc = docs.find((d) => d?.kind === 'Service' && d.apiVersion === 'serving.knative.dev/v1');
    t.ok(ksvc, `${env}: a Knative Service is rendered`);
    t.equal(ksvc?.metadata?.name, out.serviceName, `${env}: named after the platform's service_name (its URL)`);
    const pod = ksvc?.spec?.template?.spec;
    const container = pod?.containers?.[0];
    t.equal(container?.image, `${REPO}@${DIGEST}`, `${env}: image by digest`);
    t.equal(container?.name, CONTAINER, `${env}: make logs reads the container the chart names`);
    t.equal(pod?.serviceAccountName, out.serviceAccount, `${env}: runs as the Pod Identity service account`);
    const envVar = (name: string): string | undefined => (container?.env as Array<{ name: string; value?: string }> | undefined)?.find((e) => e.name === name)?.value;
    t.equal(envVar('SECRETS'), arns.join(','), `${env}: every secret ARN reaches SECRETS`);
    t.equal(envVar('AWS_REGION'), 'eu-west-1');
    t.equal(envVar('OTEL_EXPORTER_OTLP_ENDPOINT'), 'http://otel-collector.observability.svc.cluster.local:4318');
  }
});

t.test("the function's own values file sits between the chart's defaults and the environment's values", async (t) => {
  const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { functionDir, probePath } = await import('../deploy/lib/config.ts');
  const fn = join(mkdtempSync(join(tmpdir(), 'fn-values-')), 'myfn');
  mkdirSync(fn);
  writeFileSync(join(fn, 'values.yaml'), 'function:\n  env:\n    GREETING: Hej\n  probePath: /hello\nautoscaling:\n  maxScale: 4\n');
  const own = { ...ctx, env: { FUNCTION: fn } };
  const out = parseOutputs(platformOutputs('dev', { secret_arns: [] }), 'dev');
  const args = helmValues(own, 'dev', out, REPO, DIGEST);
  const files = args.flatMap((a, i) => (args[i - 1] === '--values' ? [a] : []));
  t.equal(files[0], join(fn, 'values.yaml'), 'FUNCTION=<folder>: its values.yaml first');
  t.match(files[1], /platform\/envs\/dev\/function-values\.yaml$/, "then the environment's");
  t.equal(probePath(own), '/hello', "the smoke test and make coldstart call the function's probe path");
  t.equal(probePath(ctx), '/', 'the example: /');
  t.equal(functionDir(ctx), join(ROOT, 'function', 'example'), 'default FUNCTION: function/example');
});
