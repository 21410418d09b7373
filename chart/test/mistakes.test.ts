// Values mistakes a user is likely to make fail `helm template` with a message that names the key to fix.
import t from 'tap';
import { helmTemplate, tempDir, valueFiles, writeTemp } from './helpers.ts';

type Case = { name: string; values: string; expect: RegExp };

const cases: Case[] = [
  {
    name: 'min-scale above max-scale',
    values: 'autoscaling:\n  minScale: 5\n  maxScale: 2\n',
    expect: /autoscaling\.minScale \(5\) must not exceed autoscaling\.maxScale \(2\)/,
  },
  { name: 'target 0', values: 'autoscaling:\n  target: 0\n', expect: /'\/autoscaling\/target': minimum: got 0, want 0\.01/ },
  { name: 'a port number as a value (it is the contract\'s)', values: 'ports:\n  - name: http1\n    containerPort: 8081\n', expect: /additional properties 'ports' not allowed/ },
  { name: 'an unknown protocol', values: 'portName: http2\n', expect: /'\/portName': value must be one of 'http1', 'h2c'/ },
  {
    name: 'an HPA class with a KPA metric',
    values: 'autoscaling:\n  class: hpa.autoscaling.knative.dev\n  metric: concurrency\n',
    expect: /autoscaling\.metric "concurrency" needs autoscaling\.class kpa\.autoscaling\.knative\.dev/,
  },
  { name: 'unknown top-level key', values: 'replicaCount: 3\n', expect: /additional properties 'replicaCount' not allowed/ },
  { name: 'unknown nested key (typo)', values: 'autoscaling:\n  minscale: 2\n', expect: /'\/autoscaling': additional properties 'minscale' not allowed/ },
  { name: 'wrong type', values: 'containerConcurrency: "fifty"\n', expect: /\/containerConcurrency/ },
  { name: 'traffic not adding up to 100', values: 'traffic:\n  - latestRevision: true\n    percent: 90\n', expect: /traffic: the percents must add up to 100 \(got 90\)/ },
  { name: 'a reserved env var', values: 'function:\n  env:\n    PORT: "9000"\n', expect: /function\.env: PORT is reserved by Knative/ },
  { name: 'a chart-owned env var', values: 'function:\n  env:\n    LOG_LEVEL: debug\n', expect: /function\.env: LOG_LEVEL is set by the chart/ },
  {
    name: 'a grace period too short for the drain and the shutdown',
    values: 'timeoutSeconds: 30\nresponseStartTimeoutSeconds: 10\n',
    expect: /timeoutSeconds \(30\) is also the termination grace period: it must cover queue-proxy's 30 s drain plus function\.shutdownTimeoutSeconds \(10\)/,
  },
  { name: 'timeout above the cluster maximum', values: 'timeoutSeconds: 900\n', expect: /\/timeoutSeconds/ },
  { name: 'a tag where a digest belongs', values: 'image:\n  digest: "latest"\n', expect: /\/image\/digest/ },
];

const dir = tempDir('mistakes');

for (const c of cases) {
  t.test(c.name, async (t) => {
    const file = writeTemp(dir, `${c.name.replace(/\W+/g, '-')}.yaml`, c.values);
    const r = helmTemplate([...valueFiles('default'), '-f', file]);
    t.not(r.status, 0, 'helm template fails');
    t.match(r.stderr, c.expect, `the message names the key:\n${r.stderr}`);
  });
}

t.test('an environment file without the deploy-time image says what is missing', async (t) => {
  const r = helmTemplate(['-f', 'platform/envs/prod/function-values.yaml']);
  t.not(r.status, 0, 'helm template fails');
  t.match(r.stderr, /image\.repository is required/, r.stderr);
});

t.test('the same values without the mistake render (the failures above are the mistakes)', async (t) => {
  const r = helmTemplate([...valueFiles('default'), '-f', writeTemp(dir, 'ok.yaml', 'autoscaling:\n  minScale: 2\n  maxScale: 5\n  target: 10\n')]);
  t.equal(r.status, 0, r.output);
});
