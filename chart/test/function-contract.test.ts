// The environment the chart gives the pod is one the function accepts: each scenario's rendered env (plus what
// Knative adds: PORT from the container port, K_SERVICE) goes through the function's own config loader, and the
// chart's enums are the function's.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOG_LEVELS, loadConfig } from '../../function/src/config.ts';
import { PHASES } from '../../function/src/startup.ts';
import { CHART, knativeService, render, scenarios } from './helpers.ts';

type EnvVar = { name: string; value: string };

/** The env a revision pod's function container sees, as Knative builds it from the rendered Service. */
function podEnv(ksvc: ReturnType<typeof knativeService>): Record<string, string> {
  const container = ksvc.spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const e of container.env as EnvVar[]) env[e.name] = e.value;
  env.PORT = String(container.ports[0].containerPort);
  env.K_SERVICE = ksvc.metadata.name;
  env.K_REVISION = `${ksvc.metadata.name}-00001`;
  return env;
}

for (const scenario of scenarios()) {
  t.test(`${scenario}: the function's config loader accepts the pod env`, async (t) => {
    const ksvc = knativeService(render(scenario).objects);
    const env = podEnv(ksvc);
    let config: ReturnType<typeof loadConfig> | undefined;
    t.doesNotThrow(() => {
      config = loadConfig(env);
    }, `loadConfig(${JSON.stringify(env)})`);
    t.equal(config?.port, Number(env.PORT), 'listens on the declared port');
    t.equal(config?.requestTimeoutSeconds, ksvc.spec.template.spec.timeoutSeconds, "request budget = the revision's timeoutSeconds");
    t.ok((config?.shutdownTimeoutSeconds ?? Infinity) < ksvc.spec.template.spec.timeoutSeconds, 'shutdown fits in the grace period');
    t.equal(config?.service, ksvc.metadata.name, 'service name from K_SERVICE');
  });
}

t.test('secret ARNs as make deploy-* passes them become the function\'s secret ids', async (t) => {
  const arns = ['arn:aws:secretsmanager:eu-west-1:123456789012:secret:knative-fn/prod/app-AbCdEf', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:knative-fn/prod/db-123456'];
  const ksvc = knativeService(render('prod', ['--set-string', `function.secrets=${arns.join('\\,')}`, '--set-string', 'function.awsRegion=eu-west-1']).objects);
  const config = loadConfig(podEnv(ksvc));
  t.same(config.secretIds, arns, 'both ARNs, in order');
  t.equal(config.region, 'eu-west-1');
});

t.test("the chart's enums are the function's", async (t) => {
  const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));
  const levels: string[] = schema.properties.function.properties.logLevel.enum;
  for (const l of levels) t.ok((LOG_LEVELS as readonly string[]).includes(l), `log level ${l} is one the function accepts`);
  t.same(schema.properties.prometheusRule.properties.coldStartPhase.enum, [...PHASES], 'cold-start phases are function/src/startup.ts PHASES');
});
