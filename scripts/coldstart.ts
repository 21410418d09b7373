#!/usr/bin/env node
// make coldstart ENV=dev N=10: the scale-from-zero probe against a deployed revision.
//   node scripts/coldstart.ts --env dev [--samples 10] [--json out.json] [--service <ksvc name>]
// Waits until the latest ready revision has zero pods, sends GET /, records the time to first byte and the
// function's own Server-Timing phases; repeats; prints p50/p95/max. Env: COLDSTART_POLL_SECONDS (5),
// COLDSTART_ZERO_TIMEOUT_SECONDS (600), COLDSTART_REQUEST_TIMEOUT_SECONDS (120).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isEnv, probePath, repoRoot, type Context } from './deploy/lib/config.ts';
import { formatSummary, phaseMedians, probe, summarise } from './deploy/lib/coldstart.ts';
import { callableUrl, forEnv } from './deploy/lib/flows.ts';
import { Kube } from './deploy/lib/kube.ts';
import * as platform from './deploy/lib/platform.ts';
import { consoleLog, Refusal, report } from './deploy/lib/steps.ts';

export async function main(argv: string[], ctx: Context): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { env: { type: 'string', default: 'dev' }, samples: { type: 'string', default: '10' }, json: { type: 'string' }, service: { type: 'string' } },
    });
    const env = values.env;
    if (!isEnv(env)) throw new Refusal(`unknown environment "${env ?? ''}"`, 'use ENV=dev, ENV=prod or ENV=local');
    const samples = Number(values.samples);
    if (!Number.isInteger(samples) || samples < 1) throw new Refusal(`N=${values.samples} is not a positive integer`, 'use N=10');

    const envCtx = forEnv(ctx, env);
    const out = await platform.outputs(envCtx, env);
    const kube = await Kube.connect(envCtx, env, out);
    // --service: another Knative Service in the function's namespace, measured the same way (a baseline).
    const name = values.service || out.serviceName;
    const svc = await kube.getService(name);
    const url = callableUrl(svc?.status?.url ?? '', out) || undefined;
    const revision = svc?.status?.latestReadyRevisionName;
    if (!svc || !url || !revision) throw new Refusal(`${name} has no ready revision in ${env}`, `run make deploy-${env}, then make status ENV=${env}`);
    ctx.log.out(`cold start probe: ${name} in ${env}, revision ${revision}, ${url}, ${samples} sample(s)`);

    const seconds = (name: string, dflt: number): number => Number(ctx.env[name] || dflt) * 1000;
    const results = await probe(
      {
        // The function's probe path (its values' function.probePath); another Service (--service) is called at /.
        url: `${url.replace(/\/$/, '')}${values.service ? '/' : probePath(ctx)}`,
        podCount: async () => (await kube.pods(`serving.knative.dev/revision=${revision}`)).length,
      },
      {
        samples,
        pollMs: seconds('COLDSTART_POLL_SECONDS', 5),
        zeroTimeoutMs: seconds('COLDSTART_ZERO_TIMEOUT_SECONDS', 600),
        requestTimeoutMs: seconds('COLDSTART_REQUEST_TIMEOUT_SECONDS', 120),
        log: ctx.log,
      },
    );
    const summary = summarise(results);
    ctx.log.out(formatSummary(summary));
    const medians = phaseMedians(results);
    if (medians.length) ctx.log.out(`function phases, median: ${medians.map(([n, d]) => `${n} ${d.toFixed(1)}`).join(', ')} ms`);
    if (values.json) writeFileSync(values.json, `${JSON.stringify({ env, revision, url, summary, samples: results }, null, 2)}\n`);
    return summary.ok === summary.n ? 0 : 1;
  } catch (err) {
    return report(ctx.log, err);
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2), { root: repoRoot, log: consoleLog, env: process.env });
}
