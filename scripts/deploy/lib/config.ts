// Where things are and what they are called: the one place the deploy scripts take names from.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { which } from './exec.ts';
import type { Log } from './steps.ts';

/** dev and prod live in AWS; local is the local Kubernetes + Knative of `make cluster` (no AWS, no registry). */
export const ENVS = ['dev', 'prod', 'local'] as const;
export type EnvName = (typeof ENVS)[number];

export function isEnv(value: string | undefined): value is EnvName {
  return value !== undefined && (ENVS as readonly string[]).includes(value);
}

/** Everything a command needs from its surroundings; tests pass their own. */
export interface Context {
  root: string;
  log: Log;
  env: NodeJS.ProcessEnv;
}

export const repoRoot = resolve(import.meta.dirname, '..', '..', '..');

export function platformDir(ctx: Context, env: EnvName): string {
  return join(ctx.root, 'platform', 'envs', env);
}

export function chartDir(ctx: Context): string {
  return join(ctx.root, 'chart');
}

/** The environment's own values for the function chart, next to its platform root. */
export function valuesFile(ctx: Context, env: EnvName): string {
  // The local cluster has no platform folder: its values are a chart scenario, validated with the others.
  if (env === 'local') return join(ctx.root, 'chart', 'ci', 'local-values.yaml');
  return join(ctx.root, 'platform', 'envs', env, 'function-values.yaml');
}

/** The author's function folder: the FUNCTION setting (make variable or environment), default function/example. */
export function functionDir(ctx: Context): string {
  return resolve(ctx.root, ctx.env.FUNCTION || join('function', 'example'));
}

/**
 * The function's own values file (<FUNCTION>/values.yaml: its settings, secret keys, probe path, autoscaling): merged
 * after the chart's defaults and before the environment's values. Undefined when the function has none.
 */
export function functionValuesFile(ctx: Context): string | undefined {
  const file = join(functionDir(ctx), 'values.yaml');
  return existsSync(file) ? file : undefined;
}

/** The function's values as a document (empty when it has no values file). */
export function functionValues(ctx: Context): { function?: { env?: Record<string, unknown>; secretKeys?: string[]; probePath?: string } } {
  const file = functionValuesFile(ctx);
  return file ? ((parse(readFileSync(file, 'utf8')) as ReturnType<typeof functionValues> | null) ?? {}) : {};
}

/** The path the smoke test and the cold-start probe call: `function.probePath` of the function's values, else `/`. */
export function probePath(ctx: Context): string {
  const p = functionValues(ctx).function?.probePath ?? '/';
  return p.startsWith('/') ? p : `/${p}`;
}

/** Per-env scratch space (kubeconfig, generated values): under .cache/, which git ignores. */
export function stateDir(ctx: Context, env: EnvName): string {
  return join(ctx.root, '.cache', 'deploy', env);
}

/** The OpenTofu binary scripts/platform.sh will use: $TOFU, ./bin/tofu (make tools), tofu or terraform on PATH. */
export function tfBin(ctx: Context): string | undefined {
  if (ctx.env.TOFU) return existsSync(ctx.env.TOFU) || which(ctx.env.TOFU, ctx.env.PATH) ? ctx.env.TOFU : undefined;
  const local = join(ctx.root, 'bin', 'tofu');
  if (existsSync(local)) return local;
  return which('tofu', ctx.env.PATH) ?? which('terraform', ctx.env.PATH);
}

interface Contract {
  ports: { http: number; metrics: number };
  probes: { readiness: string };
  firstResponseHeader: string;
  traceResponseHeader: string;
}

export function contract(ctx: Context): Contract {
  return JSON.parse(readFileSync(join(ctx.root, 'chart', 'files', 'contract.json'), 'utf8')) as Contract;
}

export function kubernetesMinor(ctx: Context): number {
  const v = JSON.parse(readFileSync(join(ctx.root, 'platform', 'versions.json'), 'utf8')) as {
    kubernetes: { version: string };
  };
  return Number(v.kubernetes.version.split('.')[1]);
}

/** The git commit the image is tagged with (GIT_COMMIT overrides, as CI sets it). */
export function gitCommitEnvOverride(ctx: Context): string | undefined {
  return ctx.env.GIT_COMMIT || ctx.env.GITHUB_SHA || undefined;
}
