// The platform (platform/envs/<env>): apply, destroy, and its outputs read as JSON.
import { run } from './exec.ts';
import { platformDir, tfBin, type Context, type EnvName } from './config.ts';

/** What the deploy needs from the platform. Names are the Terraform output names of platform/envs/<env>. */
export interface PlatformOutputs {
  clusterName: string;
  region: string;
  /** ECR repository URL, `<account>.dkr.ecr.<region>.amazonaws.com/<name>`. */
  ecrRepositoryUrl: string;
  namespace: string;
  serviceAccount: string;
  /** Secret ARNs the function reads at startup (the chart sets SECRETS from them). */
  secretArns: string[];
  /** CPU architecture of the nodes the function runs on (`amd64` or `arm64`). */
  architecture: string;
  /** OTLP endpoint the function exports to, if the platform runs a collector. */
  otlpEndpoint?: string;
  /** How to reach Grafana and Jaeger (namespace/service/port), if installed. */
  grafana?: PortForward;
  jaeger?: PortForward;
}

export interface PortForward {
  namespace: string;
  service: string;
  port: number;
}

type Raw = Record<string, { value: unknown } | undefined>;

/** Output names accepted for each field, first match wins (keeps the deploy tolerant of a rename on one side). */
const NAMES = {
  clusterName: ['cluster_name'],
  region: ['region', 'aws_region'],
  ecrRepositoryUrl: ['ecr_repository_url', 'ecr_url', 'repository_url'],
  namespace: ['namespace', 'function_namespace'],
  serviceAccount: ['service_account', 'service_account_name', 'function_service_account'],
  secretArns: ['secret_arns', 'function_secret_arns'],
  architecture: ['node_architecture', 'architecture'],
  otlpEndpoint: ['otlp_endpoint', 'otel_collector_endpoint'],
  grafana: ['grafana'],
  jaeger: ['jaeger'],
} as const;

function pick(raw: Raw, names: readonly string[]): unknown {
  for (const n of names) if (raw[n] !== undefined) return raw[n]?.value;
  return undefined;
}

function asPortForward(v: unknown): PortForward | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.namespace !== 'string' || typeof o.service !== 'string') return undefined;
  return { namespace: o.namespace, service: o.service, port: Number(o.port ?? 80) };
}

export function parseOutputs(json: string, env: EnvName): PlatformOutputs {
  const raw = JSON.parse(json || '{}') as Raw;
  const missing: string[] = [];
  const str = (key: keyof typeof NAMES): string => {
    const v = pick(raw, NAMES[key]);
    if (typeof v !== 'string' || v === '') {
      missing.push(NAMES[key][0]);
      return '';
    }
    return v;
  };
  const out: PlatformOutputs = {
    clusterName: str('clusterName'),
    region: str('region'),
    ecrRepositoryUrl: str('ecrRepositoryUrl'),
    namespace: str('namespace'),
    serviceAccount: str('serviceAccount'),
    secretArns: [],
    architecture: 'amd64',
  };
  const secrets = pick(raw, NAMES.secretArns);
  if (Array.isArray(secrets)) out.secretArns = secrets.map(String);
  else if (secrets && typeof secrets === 'object') out.secretArns = Object.values(secrets).map(String);
  else if (typeof secrets === 'string' && secrets) out.secretArns = secrets.split(',');
  const arch = pick(raw, NAMES.architecture);
  if (typeof arch === 'string' && arch) out.architecture = arch;
  const otlp = pick(raw, NAMES.otlpEndpoint);
  if (typeof otlp === 'string' && otlp) out.otlpEndpoint = otlp;
  const grafana = asPortForward(pick(raw, NAMES.grafana));
  if (grafana) out.grafana = grafana;
  const jaeger = asPortForward(pick(raw, NAMES.jaeger));
  if (jaeger) out.jaeger = jaeger;
  if (missing.length) {
    throw new Error(
      `platform/envs/${env} has no output(s) ${missing.join(', ')}: the platform is not applied yet (run make deploy-${env === 'prod' ? 'prod' : 'dev'} without SKIP_PLATFORM)`,
    );
  }
  return out;
}

function tf(ctx: Context, env: EnvName, args: string[]): [string, string[]] {
  return [tfBin(ctx), [`-chdir=${platformDir(ctx, env)}`, ...args]];
}

export async function init(ctx: Context, env: EnvName, stream = true): Promise<void> {
  const [bin, args] = tf(ctx, env, ['init', '-input=false']);
  await run(bin, args, { cwd: ctx.root, stream });
}

export async function apply(ctx: Context, env: EnvName): Promise<void> {
  await init(ctx, env);
  const [bin, args] = tf(ctx, env, ['apply', '-input=false', '-auto-approve']);
  await run(bin, args, { cwd: ctx.root, stream: true });
}

export async function destroy(ctx: Context, env: EnvName): Promise<void> {
  await init(ctx, env);
  const [bin, args] = tf(ctx, env, ['destroy', '-input=false', '-auto-approve']);
  await run(bin, args, { cwd: ctx.root, stream: true });
}

export async function outputs(ctx: Context, env: EnvName, initFirst = true): Promise<PlatformOutputs> {
  // The backend must be initialised before state can be read (a fresh clone has no .terraform/; init is idempotent).
  if (initFirst) await init(ctx, env, false);
  const [bin, args] = tf(ctx, env, ['output', '-json']);
  return parseOutputs(await run(bin, args, { cwd: ctx.root }), env);
}

/** The registry host of an ECR repository URL (what `docker login` takes). */
export function registryHost(repositoryUrl: string): string {
  return repositoryUrl.split('/')[0] ?? repositoryUrl;
}

/** The repository name inside the registry (what `aws ecr describe-images` takes). */
export function repositoryName(repositoryUrl: string): string {
  return repositoryUrl.split('/').slice(1).join('/');
}
