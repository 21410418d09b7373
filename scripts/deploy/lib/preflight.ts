// Preflight: every missing piece reported at once, one line each with the fix. Nothing slow runs until the cheap
// checks (tools on PATH, a credential source) pass, so a machine without credentials fails in well under a second.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { runRaw, which } from './exec.ts';
import { kubernetesMinor, tfBin, type Context } from './config.ts';
import { Refusal } from './steps.ts';

export interface Needs {
  /** Image build and push (deploy-dev); prod promotion never builds. */
  docker: boolean;
  /** Platform apply/destroy/output. */
  platform: boolean;
  /** Helm (deploy, destroy). */
  helm: boolean;
}

export interface Identity {
  account: string;
  arn: string;
}

const FIX: Record<string, string> = {
  aws: 'install AWS CLI v2: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html',
  kubectl: 'install kubectl (same minor as the cluster, +-1): https://kubernetes.io/docs/tasks/tools/',
  helm: 'run `make tools` (installs the pinned bin/helm)',
  tofu: 'run `make tools` (installs the pinned bin/tofu), or set TOFU=/path/to/tofu',
  docker: 'install Docker with the buildx plugin: https://docs.docker.com/engine/install/',
};

export const CREDENTIALS_FIX =
  'set AWS_PROFILE=<profile> (after `aws configure sso` / `aws sso login`), or AWS_ACCESS_KEY_ID + ' +
  'AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN); CI uses OIDC (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE); ' +
  'on an EC2/ECS host with a role set AWS_CREDENTIALS_FROM_INSTANCE=1';

/** Where the AWS CLI could find credentials, without calling AWS (IMDS is not probed: that is what makes it slow). */
export function credentialSources(env: NodeJS.ProcessEnv): string[] {
  const found: string[] = [];
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) found.push('AWS_ACCESS_KEY_ID');
  if (env.AWS_PROFILE) found.push(`AWS_PROFILE=${env.AWS_PROFILE}`);
  if (env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN) found.push('web identity (OIDC)');
  if (env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) {
    found.push('container credentials');
  }
  if (env.AWS_CREDENTIALS_FROM_INSTANCE === '1') found.push('instance role');
  const home = env.HOME || homedir();
  const files = [env.AWS_SHARED_CREDENTIALS_FILE || join(home, '.aws', 'credentials'), env.AWS_CONFIG_FILE || join(home, '.aws', 'config')];
  for (const f of files) if (existsSync(f)) found.push(f);
  return found;
}

function parseSemver(text: string): [number, number] | undefined {
  const m = /v?(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export async function preflight(ctx: Context, needs: Needs): Promise<Identity> {
  const problems: string[] = [];
  const tools = ['aws', 'kubectl'];
  if (needs.helm) tools.push('helm');
  if (needs.docker) tools.push('docker');
  for (const tool of tools) if (!which(tool, ctx.env.PATH)) problems.push(`${tool} not found on PATH: ${FIX[tool]}`);
  if (needs.platform && !tfBin(ctx)) problems.push(`tofu not found (nor terraform): ${FIX.tofu}`);
  if (credentialSources(ctx.env).length === 0) problems.push(`no AWS credentials: ${CREDENTIALS_FIX}`);
  if (problems.length) throw new Refusal(`preflight found ${problems.length} problem(s)`, problems.join('\n  '));

  // Versions and identity: these spawn the tools, so they come after the cheap checks.
  const opts = { cwd: ctx.root, env: ctx.env, timeoutMs: 20_000 };
  const minor = kubernetesMinor(ctx);
  const kubectl = await runRaw('kubectl', ['version', '--client', '-o', 'json'], opts);
  // The JSON form, or the last resort of any "v1.NN" in the output (kubectl may print warnings around it).
  const kv = kubectl.code === 0 ? parseSemver(/"gitVersion":\s*"([^"]+)"/.exec(kubectl.stdout)?.[1] ?? kubectl.stdout) : undefined;
  if (!kv || kv[0] !== 1 || Math.abs(kv[1] - minor) > 1) {
    problems.push(`kubectl ${kv ? kv.join('.') : '(version unknown)'} is too far from Kubernetes 1.${minor}: ${FIX.kubectl}`);
  }
  if (needs.helm) {
    const helm = await runRaw('helm', ['version', '--short'], opts);
    const hv = parseSemver(helm.stdout);
    if (helm.code !== 0 || !hv || hv[0] < 3) problems.push(`helm 3 or later is required (got "${helm.stdout.trim()}"): ${FIX.helm}`);
  }
  if (needs.docker) {
    const buildx = await runRaw('docker', ['buildx', 'version'], opts);
    if (buildx.code !== 0) problems.push(`docker buildx is not available: ${FIX.docker}`);
  }
  const sts = await runRaw('aws', ['sts', 'get-caller-identity', '--output', 'json'], opts);
  let identity: Identity | undefined;
  if (sts.code === 0) {
    const body = JSON.parse(sts.stdout) as { Account: string; Arn: string };
    identity = { account: body.Account, arn: body.Arn };
    if (ctx.env.AWS_ACCOUNT_ID && ctx.env.AWS_ACCOUNT_ID !== body.Account) {
      problems.push(`credentials are for account ${body.Account}, AWS_ACCOUNT_ID says ${ctx.env.AWS_ACCOUNT_ID}: switch AWS_PROFILE`);
    }
  } else {
    const why = sts.stderr.trim().split('\n').pop() ?? '';
    problems.push(`AWS credentials do not work (${why}): ${CREDENTIALS_FIX}`);
  }
  if (problems.length || !identity) {
    throw new Refusal(`preflight found ${problems.length} problem(s)`, problems.join('\n  '));
  }
  ctx.log.out(`    AWS account ${identity.account} as ${identity.arn}`);
  return identity;
}
