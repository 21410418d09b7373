// Test harness for the deploy scripts: stub executables on PATH that record their argv (one JSON line per call)
// and answer from a list of canned rules. Nothing here talks to AWS, a registry or a cluster.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'scripts', 'deploy', 'cli.ts');

export interface Rule {
  tool: string;
  /** Exact argv (after the tool name). */
  args?: string[];
  /** argv starts with these. */
  prefix?: string[];
  /** argv contains each of these. */
  includes?: string[];
  stdout?: string;
  /** Read stdout from this file at call time (lets a test change the answer while a process runs). */
  stdoutFile?: string;
  stderr?: string;
  exit?: number;
  /** Write `content` to the path that follows `flag` in argv (docker's --metadata-file). */
  writeArgFile?: { flag: string; content: string };
  /** Match at most this many times. */
  times?: number;
  /** Instead of answering, import this module in the stub's process (it sees the stub's argv; it may keep running). */
  execModule?: string;
}

export interface Call {
  tool: string;
  args: string[];
  stdin: string;
  /** AWS_PROFILE the tool ran with. */
  profile?: string;
}

const STUB = `
import fs from 'node:fs';
const [tool, ...args] = process.argv.slice(2);
const dir = process.env.STUB_DIR;
let stdin = '';
if (!process.stdin.isTTY) { try { stdin = fs.readFileSync(0, 'utf8'); } catch {} }
fs.appendFileSync(dir + '/calls.jsonl', JSON.stringify({ tool, args, stdin, profile: process.env.AWS_PROFILE }) + '\\n');
const rules = JSON.parse(fs.readFileSync(dir + '/rules.json', 'utf8'));
const usedFile = dir + '/used.json';
const used = fs.existsSync(usedFile) ? JSON.parse(fs.readFileSync(usedFile, 'utf8')) : {};
const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
for (const [i, r] of rules.entries()) {
  if (r.tool !== tool) continue;
  if (r.args && !eq(r.args, args)) continue;
  if (r.prefix && !eq(r.prefix, args.slice(0, r.prefix.length))) continue;
  if (r.includes && !r.includes.every((x) => args.includes(x))) continue;
  if (r.times !== undefined && (used[i] ?? 0) >= r.times) continue;
  used[i] = (used[i] ?? 0) + 1;
  fs.writeFileSync(usedFile, JSON.stringify(used));
  if (r.execModule) { await import(r.execModule); break; }
  if (r.writeArgFile) fs.writeFileSync(args[args.indexOf(r.writeArgFile.flag) + 1], r.writeArgFile.content);
  process.stdout.write(r.stdoutFile ? fs.readFileSync(r.stdoutFile, 'utf8') : (r.stdout ?? ''));
  process.stderr.write(r.stderr ?? '');
  process.exit(r.exit ?? 0);
}
`;

export const TOOLS = ['aws', 'kubectl', 'helm', 'docker', 'tofu', 'platform.sh'];

export class Harness {
  readonly dir: string;
  readonly bin: string;
  readonly home: string;

  constructor(tools: string[] = TOOLS) {
    this.dir = mkdtempSync(join(tmpdir(), 'deploy-stubs-'));
    this.bin = join(this.dir, 'bin');
    this.home = join(this.dir, 'home');
    mkdirSync(this.bin);
    mkdirSync(this.home);
    writeFileSync(join(this.dir, 'stub.mjs'), STUB);
    writeFileSync(join(this.dir, 'calls.jsonl'), '');
    this.rules([]);
    for (const tool of tools) {
      const p = join(this.bin, tool);
      writeFileSync(p, `#!/bin/sh\nexec '${process.execPath}' '${join(this.dir, 'stub.mjs')}' ${tool} "$@"\n`);
      chmodSync(p, 0o755);
    }
  }

  rules(rules: Rule[]): void {
    writeFileSync(join(this.dir, 'rules.json'), JSON.stringify(rules));
    rmSync(join(this.dir, 'used.json'), { force: true });
  }

  calls(): Call[] {
    return readFileSync(join(this.dir, 'calls.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Call);
  }

  /** argv of every call as one string each (`tool arg arg ...`), for readable exact-sequence assertions. */
  argv(): string[] {
    return this.calls().map((c) => [c.tool, ...c.args].join(' '));
  }

  /** A minimal environment: stubs and node only on PATH, an empty HOME, no AWS variables unless given. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      PATH: `${this.bin}:${dirname(process.execPath)}`,
      HOME: this.home,
      STUB_DIR: this.dir,
      PLATFORM_SCRIPT: join(this.bin, 'platform.sh'),
      TOFU: join(this.bin, 'tofu'),
      LANG: 'C.UTF-8',
      ...extra,
    };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv, cmd = process.execPath, argv0: string[] = [CLI]): Promise<Ran> {
  return new Promise((resolvePromise) => {
    const t0 = Date.now();
    const child = spawn(cmd, [...argv0, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr, ms: Date.now() - t0 }));
  });
}

export const DIGEST = `sha256:${'ab12'.repeat(16)}`;
export const ACCOUNT = '123456789012';
export const COMMIT = '0123456789abcdef0123456789abcdef01234567';

/** A string value of platform/envs/<env>/main.tf's module "platform" block, read independently of the code under test. */
export function tfvar(env: 'dev' | 'prod', name: string): string {
  const text = readFileSync(join(ROOT, 'platform', 'envs', env, 'main.tf'), 'utf8');
  const block = text.slice(text.indexOf('module "platform" {'));
  return new RegExp(`^ {2}${name} += "([^"]*)"$`, 'm').exec(block)?.[1] ?? '';
}

/** The SSM get-parameter argv that reads an environment's platform outputs. */
export function ssmArgs(env: 'dev' | 'prod'): string[] {
  return ['ssm', 'get-parameter', '--region', tfvar(env, 'aws_region'), '--name', `/${tfvar(env, 'project')}/${env}/platform-outputs`, '--query', 'Parameter.Value', '--output', 'text'];
}

export const PROD_ACCOUNT = '210987654321';
export const REPO = `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/knfn-dev-fn`;
export const PROD_REPO = `${PROD_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/knfn-prod-fn`;

/** The platform's `deploy` output object, as the SSM parameter holds it. */
export function platformOutputs(env: 'dev' | 'prod', extra: Record<string, unknown> = {}): string {
  const account = env === 'dev' ? ACCOUNT : PROD_ACCOUNT;
  return JSON.stringify({
    environment: env,
    region: 'eu-west-1',
    cluster_name: `knfn-${env}`,
    node_architecture: 'arm64',
    ecr_repository_url: env === 'dev' ? REPO : PROD_REPO,
    namespace: 'functions',
    service_name: 'fn',
    service_account: 'fn',
    secret_arns: [`arn:aws:secretsmanager:eu-west-1:${account}:secret:knfn-${env}/fn-AbCdEf`],
    function_url: `https://fn-functions.${env}.fn.example.com`,
    otel_collector_url: 'http://otel-collector.observability.svc.cluster.local:4318',
    grafana: { service: 'kps-grafana', namespace: 'observability', port: 80 },
    jaeger: { service: 'jaeger', namespace: 'observability', port: 16686 },
    chart_values: {
      fullnameOverride: 'fn',
      function: { awsRegion: 'eu-west-1', secrets: ((extra.secret_arns as string[] | undefined) ?? [`arn:aws:secretsmanager:eu-west-1:${account}:secret:knfn-${env}/fn-AbCdEf`]).join(',') },
      serviceAccount: { name: 'fn' },
      telemetry: { otlpEndpoint: 'http://otel-collector.observability.svc.cluster.local:4318' },
    },
    ...extra,
  });
}

export function ksvc(opts: { url: string; image: string; ready?: boolean; revision?: string; created?: string; generation?: number; observedGeneration?: number }): string {
  const revision = opts.revision ?? 'fn-00002';
  return JSON.stringify({
    metadata: { name: 'fn', namespace: 'functions', generation: opts.generation ?? 2 },
    spec: { template: { spec: { containers: [{ name: 'function', image: opts.image }] } } },
    status: {
      observedGeneration: opts.observedGeneration ?? opts.generation ?? 2,
      url: opts.url,
      latestReadyRevisionName: revision,
      latestCreatedRevisionName: opts.created ?? revision,
      conditions: [
        opts.ready === false
          ? { type: 'Ready', status: 'False', reason: 'RevisionMissing', message: 'Configuration "fn" does not have any ready Revision.' }
          : { type: 'Ready', status: 'True' },
        opts.ready === false
          ? { type: 'ConfigurationsReady', status: 'False', reason: 'RevisionFailed', message: 'Revision "fn-00002" failed with message: Back-off pulling image.' }
          : { type: 'ConfigurationsReady', status: 'True' },
      ],
      traffic: [{ revisionName: revision, latestRevision: true, percent: 100 }],
    },
  });
}

/** Preflight's version and identity answers. */
export function preflightRules(): Rule[] {
  return [
    { tool: 'kubectl', prefix: ['version', '--client'], stdout: JSON.stringify({ clientVersion: { gitVersion: 'v1.35.3' } }) },
    { tool: 'helm', args: ['version', '--short'], stdout: 'v3.21.4+g0000000\n' },
    { tool: 'docker', args: ['buildx', 'version'], stdout: 'github.com/docker/buildx v0.29.1\n' },
    { tool: 'aws', args: ['sts', 'get-caller-identity', '--output', 'json'], stdout: JSON.stringify({ Account: ACCOUNT, Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/deployer/me`, UserId: 'AROA:me' }) },
  ];
}

