// The platform (platform/envs/<env>, the composition platform/modules/platform): applied and destroyed through scripts/platform.sh; its outputs read from the
// SSM parameter the platform writes (`/<project>/<env>/platform-outputs`), which both a person with admin access
// and CI's deploy role (no state access) can read.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runRaw } from './exec.ts';
import { platformDir, type Context, type EnvName } from './config.ts';
import { hostPorts, paths as clusterPaths, PORTS } from '../../cluster/lib/layout.ts';
import { Refusal } from './steps.ts';

/** What the deploy needs from the platform: the `deploy` output object of platform/envs/<env>. */
export interface PlatformOutputs {
  clusterName: string;
  region: string;
  /** ECR repository URL, `<account>.dkr.ecr.<region>.amazonaws.com/<name>`. */
  ecrRepositoryUrl: string;
  namespace: string;
  /** The Knative Service name (hence its URL and the Helm release). */
  serviceName: string;
  serviceAccount: string;
  /** Secret ARNs the function reads at startup (the chart sets SECRETS from them). */
  secretArns: string[];
  /** CPU architecture of the nodes the function runs on (`amd64` or `arm64`). */
  architecture: string;
  /** OTLP/HTTP endpoint of the cluster's collector. */
  otlpEndpoint?: string;
  grafana?: PortForward;
  jaeger?: PortForward;
  /** The chart values only the platform knows (release name, region, secrets, service account, collector), as is. */
  chartValues: Record<string, unknown>;
  /** Jaeger's query API reachable as is (the local cluster's), instead of a port-forward. */
  jaegerUrl?: string;
  /** The local cluster only: its kubeconfig, and the host port forwarded to its ingress. */
  local?: { kubeconfig: string; ingressPort: number };
}

export interface PortForward {
  namespace: string;
  service: string;
  port: number;
}

function asPortForward(v: unknown): PortForward | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.namespace !== 'string' || typeof o.service !== 'string') return undefined;
  return { namespace: o.namespace, service: o.service, port: Number(o.port ?? 80) };
}

/** Parses the `deploy` object (plain JSON, as stored in SSM; or `tofu output -json deploy`). */
export function parseOutputs(json: string, env: EnvName): PlatformOutputs {
  const raw = JSON.parse(json || '{}') as Record<string, unknown>;
  const missing: string[] = [];
  const str = (key: string): string => {
    const v = raw[key];
    if (typeof v !== 'string' || v === '') {
      missing.push(key);
      return '';
    }
    return v;
  };
  const out: PlatformOutputs = {
    clusterName: str('cluster_name'),
    region: str('region'),
    ecrRepositoryUrl: str('ecr_repository_url'),
    namespace: str('namespace'),
    serviceName: str('service_name'),
    serviceAccount: str('service_account'),
    secretArns: Array.isArray(raw.secret_arns) ? raw.secret_arns.map(String) : [],
    architecture: typeof raw.node_architecture === 'string' && raw.node_architecture ? raw.node_architecture : 'amd64',
    chartValues: {},
  };
  if (raw.chart_values && typeof raw.chart_values === 'object' && !Array.isArray(raw.chart_values)) out.chartValues = raw.chart_values as Record<string, unknown>;
  else missing.push('chart_values');
  if (typeof raw.otel_collector_url === 'string' && raw.otel_collector_url) out.otlpEndpoint = raw.otel_collector_url;
  const grafana = asPortForward(raw.grafana);
  if (grafana) out.grafana = grafana;
  const jaeger = asPortForward(raw.jaeger);
  if (jaeger) out.jaeger = jaeger;
  if (missing.length) throw new Error(`the ${env} platform outputs lack ${missing.join(', ')}: apply the platform again (scripts/platform.sh apply ${env})`);
  return out;
}

/** A string value of the environment's module "platform" block in platform/envs/<env>/main.tf (its one home), e.g. project, aws_region. */
export function tfvar(ctx: Context, env: EnvName, name: string): string {
  const text = readFileSync(join(platformDir(ctx, env), 'main.tf'), 'utf8');
  const m = new RegExp(`^\\s*${name}\\s*=\\s*"([^"]*)"`, 'm').exec(text);
  if (!m?.[1]) throw new Error(`platform/envs/${env}/main.tf does not set ${name}`);
  return m[1];
}

export function outputsParameter(ctx: Context, env: EnvName): { name: string; region: string } {
  return { name: `/${tfvar(ctx, env, 'project')}/${env}/platform-outputs`, region: tfvar(ctx, env, 'aws_region') };
}

function platformScript(ctx: Context): string {
  return ctx.env.PLATFORM_SCRIPT || join(ctx.root, 'scripts', 'platform.sh');
}

export async function apply(ctx: Context, env: EnvName): Promise<void> {
  await run(platformScript(ctx), ['apply', env], { cwd: ctx.root, env: ctx.env, stream: true });
}

export async function destroy(ctx: Context, env: EnvName): Promise<void> {
  await run(platformScript(ctx), ['destroy', env], { cwd: ctx.root, env: ctx.env, stream: true });
}

/**
 * The local cluster's stand-in for the platform outputs: the same names the platform gives dev (namespace,
 * service, service account), images from dev.local (Knative resolves no tag there), no secrets (no AWS).
 */
export function localOutputs(ctx: Context): PlatformOutputs {
  const cluster = clusterPaths(ctx.env);
  if (!existsSync(cluster.pidFile) || !existsSync(cluster.kubeconfig)) {
    throw new Refusal('no local cluster runs', 'start it with make cluster (make cluster-down stops it)');
  }
  return {
    clusterName: 'knative-fn-local',
    region: 'us-east-1',
    ecrRepositoryUrl: 'dev.local/knative-fn',
    namespace: 'functions',
    serviceName: 'knative-fn',
    serviceAccount: 'knative-fn',
    secretArns: [],
    architecture: 'amd64',
    otlpEndpoint: `http://otel-collector.observability.svc.cluster.local:${PORTS.otlpHttp}`,
    // The shape of the platform's chart_values output (platform/modules/platform/outputs.tf).
    chartValues: {
      fullnameOverride: 'knative-fn',
      function: { awsRegion: 'us-east-1', secrets: '' },
      serviceAccount: { name: 'knative-fn' },
      telemetry: { otlpEndpoint: `http://otel-collector.observability.svc.cluster.local:${PORTS.otlpHttp}` },
    },
    jaegerUrl: `http://127.0.0.1:${hostPorts(ctx.env).jaegerQuery}`,
    local: { kubeconfig: cluster.kubeconfig, ingressPort: hostPorts(ctx.env).ingress },
  };
}

export async function outputs(ctx: Context, env: EnvName): Promise<PlatformOutputs> {
  if (env === 'local') return localOutputs(ctx);
  const p = outputsParameter(ctx, env);
  const r = await runRaw('aws', ['ssm', 'get-parameter', '--region', p.region, '--name', p.name, '--query', 'Parameter.Value', '--output', 'text'], {
    cwd: ctx.root,
    env: ctx.env,
    timeoutMs: 60_000,
  });
  if (r.code !== 0) {
    if (/ParameterNotFound/.test(r.stderr)) {
      throw new Error(`no platform outputs at ${p.name} (${p.region}): the ${env} platform is not applied yet`);
    }
    throw new Error(`aws ssm get-parameter ${p.name} failed: ${r.stderr.trim().split('\n').pop() ?? ''}`);
  }
  return parseOutputs(r.stdout.trim(), env);
}

/** The registry host of an ECR repository URL (what `docker login` takes). */
export function registryHost(repositoryUrl: string): string {
  return repositoryUrl.split('/')[0] ?? repositoryUrl;
}

/** The repository name inside the registry (what `aws ecr describe-images` takes). */
export function repositoryName(repositoryUrl: string): string {
  return repositoryUrl.split('/').slice(1).join('/');
}

/** The region of an ECR repository URL (`<account>.dkr.ecr.<region>.amazonaws.com/...`). */
export function registryRegion(repositoryUrl: string): string | undefined {
  return /\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/.exec(repositoryUrl)?.[1];
}
