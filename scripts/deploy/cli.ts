#!/usr/bin/env node
// Entry point of the Makefile's Deploy targets:
//   node scripts/deploy/cli.ts deploy-dev | deploy-prod | destroy ENV | status ENV | logs ENV | preflight
// Environment: CONFIRM (deploy-prod, destroy), CONFIRM_DESTROY=prod, SKIP_PLATFORM=1 (no platform apply, as in CI),
// AWS_PROFILE_DEV / AWS_PROFILE_PROD (per-environment credentials), AWS_ACCOUNT_ID (expected account),
// PROMOTE_IMAGE=<repo>@sha256:... (CI: the image the dev job deployed), WAIT_TIMEOUT_SECONDS, SMOKE_TIMEOUT_SECONDS,
// FOLLOW=1 / TAIL=N (logs), GIT_COMMIT, TOFU, PLATFORM_SCRIPT (default scripts/platform.sh).
import { isEnv, repoRoot, type Context, type EnvName } from './lib/config.ts';
import * as flows from './lib/flows.ts';
import { preflight } from './lib/preflight.ts';
import { consoleLog, Refusal, report } from './lib/steps.ts';

const USAGE = `usage: cli.ts <command> [env]
  deploy-local          the built function onto the local cluster (make cluster): helm install, wait Ready, smoke test
  deploy-dev            preflight, platform apply, build + push by digest, helm install, wait Ready, smoke test
  deploy-prod           promote the digest running in dev to prod (CONFIRM=prod)
  destroy <env>         helm uninstall + platform destroy (CONFIRM=<env>; prod also CONFIRM_DESTROY=prod)
  status <env>          revision, ready pods, URL, traffic split
  logs <env>            function logs (FOLLOW=1 to follow, TAIL=N lines)
  trace <env> <id>      one trace's span tree from the cluster's Jaeger (through a port-forward)
  preflight             check tools and AWS credentials only`;

function envArg(value: string | undefined): EnvName {
  if (!isEnv(value)) throw new Refusal(`unknown environment "${value ?? ''}"`, 'use ENV=dev, ENV=prod or ENV=local');
  return value;
}

export async function main(argv: string[], ctx: Context): Promise<number> {
  const [command, env, arg] = argv;
  try {
    switch (command) {
      case 'deploy-local':
        await flows.deployLocal(ctx);
        break;
      case 'deploy-dev':
        await flows.deployDev(ctx);
        break;
      case 'deploy-prod':
        await flows.deployProd(ctx);
        break;
      case 'destroy':
        await flows.destroy(ctx, envArg(env));
        break;
      case 'status':
        await flows.status(ctx, envArg(env));
        break;
      case 'logs':
        await flows.logs(ctx, envArg(env));
        break;
      case 'trace':
        return await flows.trace(ctx, envArg(env), arg);
      case 'preflight':
        await preflight(ctx, { docker: true, platform: true, helm: true });
        ctx.log.out('preflight: ok');
        break;
      default:
        ctx.log.err(USAGE);
        return 64;
    }
    return 0;
  } catch (err) {
    return report(ctx.log, err);
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2), { root: repoRoot, log: consoleLog, env: process.env });
}
