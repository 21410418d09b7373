// Shared helpers for the platform tests: paths, the HCL parser, and running tools from ./bin.
import { parse } from '@cdktf/hcl2json';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PLATFORM = join(ROOT, 'platform');
export const ENVS = ['dev', 'prod'] as const;
export type Env = (typeof ENVS)[number];

export interface Versions {
  knative: { release: string; servingModule: string; operatorChart: string };
  kubernetes: { version: string };
  charts: { kubePrometheusStack: string; opentelemetryCollector: string; externalDns: string };
  images: { jaeger: string };
  terraformModules: Record<string, string>;
}

export const versions = (): Versions => JSON.parse(readFileSync(join(PLATFORM, 'versions.json'), 'utf8')) as Versions;

/** Directories holding Terraform code: every module, every environment root, the bootstrap. */
export function terraformDirs(): string[] {
  const modules = readdirSync(join(PLATFORM, 'modules')).map((m) => join(PLATFORM, 'modules', m));
  return [...modules, ...ENVS.map((e) => join(PLATFORM, 'envs', e)), join(PLATFORM, 'bootstrap')].filter((d) =>
    statSync(d).isDirectory(),
  );
}

export const rel = (p: string): string => relative(ROOT, p);

export const tfFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.tf'))
    .sort()
    .map((f) => join(dir, f));

// hcl2json's JSON: blocks are maps of label -> list of bodies; expressions are "${...}" strings.
export type Body = Record<string, unknown>;
export type Hcl = {
  variable?: Record<string, Body[]>;
  resource?: Record<string, Record<string, Body[]>>;
  data?: Record<string, Record<string, Body[]>>;
  ephemeral?: Record<string, Record<string, Body[]>>;
  module?: Record<string, Body[]>;
  locals?: Body[];
  output?: Record<string, Body[]>;
  terraform?: Body[];
  provider?: Record<string, Body[]>;
};

export async function parseFile(file: string): Promise<Hcl> {
  return (await parse(file, readFileSync(file, 'utf8'))) as Hcl;
}

/** All .tf files of a directory parsed and merged per block kind. */
export async function parseDir(dir: string): Promise<Hcl> {
  const merged: Required<Hcl> = { variable: {}, resource: {}, data: {}, ephemeral: {}, module: {}, locals: [], output: {}, terraform: [], provider: {} };
  for (const f of tfFiles(dir)) {
    const h = await parseFile(f);
    Object.assign(merged.variable, h.variable ?? {});
    Object.assign(merged.module, h.module ?? {});
    Object.assign(merged.output, h.output ?? {});
    Object.assign(merged.provider, h.provider ?? {});
    merged.locals.push(...(h.locals ?? []));
    merged.terraform.push(...(h.terraform ?? []));
    for (const kind of ['resource', 'data', 'ephemeral'] as const) {
      for (const [type, byName] of Object.entries(h[kind] ?? {})) {
        merged[kind][type] = { ...(merged[kind][type] ?? {}), ...byName };
      }
    }
  }
  return merged;
}

/** An environment's values: the arguments of the module "platform" call in platform/envs/<env>/main.tf (literals only). */
export async function parseTfvars(env: Env): Promise<Record<string, unknown>> {
  const h = await parseFile(join(PLATFORM, 'envs', env, 'main.tf'));
  const calls = h.module?.platform;
  if (!calls || calls.length !== 1) throw new Error(`platform/envs/${env}/main.tf must call module "platform" once`);
  const { source: _source, ...values } = calls[0] as Body;
  return values;
}

/** The composition every environment calls. */
export const COMPOSITION = join(PLATFORM, 'modules', 'platform');

/** A tool from ./bin or ./.venv/bin (PLATFORM_TEST_<NAME> overrides, for trying another build); undefined when `make tools` has not installed it. */
export function tool(name: string): string | undefined {
  const override = process.env[`PLATFORM_TEST_${name.toUpperCase().replace(/-/g, '_')}`];
  if (override) return override;
  for (const p of [join(ROOT, 'bin', name), join(ROOT, '.venv', 'bin', name)]) if (existsSync(p)) return p;
  return undefined;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', ...opts.env },
    encoding: 'utf8',
    timeout: opts.timeout ?? 240_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

export const output = (r: SpawnSyncReturns<string>): string => `exit ${r.status}${r.error ? ` (${r.error.message})` : ''}\n${r.stdout}\n${r.stderr}`;
