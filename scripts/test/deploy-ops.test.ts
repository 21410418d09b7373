// Preflight (credentials, tools), destroy, status, logs and trace, with stub tools on PATH.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  ACCOUNT, COMMIT, DIGEST, ENV, KUBE_DEV, PREFLIGHT_NO_DOCKER, REPO, SSM_DEV, harness, ksvc, kubeconfig, platformOutputs, preflightRules, runCli, ssmArgs,
} from './deploy-fixtures.ts';

/**
 * Runs `run` until it finishes under 5 s, at most 3 times, and returns the fastest. What is under test is that the
 * refusal makes no network call (no STS, no instance metadata), which no tool call below also shows; the retries
 * only keep a machine busy with other builds from failing a property that does not depend on load.
 */
async function fastest(run: () => ReturnType<typeof runCli>): Promise<Awaited<ReturnType<typeof runCli>>> {
  let best = await run();
  for (let i = 0; i < 2 && best.ms >= 5000; i += 1) {
    const next = await run();
    if (next.ms < best.ms) best = next;
  }
  return best;
}

t.test('no AWS credentials: refuses in under 5 s, says what to set, calls nothing', async (t) => {
  const h = harness(t);
  h.rules(preflightRules());
  const r = await fastest(() => runCli(['deploy-dev'], h.env({ GIT_COMMIT: COMMIT })));
  t.equal(r.code, 2);
  t.ok(r.ms < 5000, `took ${r.ms} ms`);
  t.match(r.stderr, 'REFUSED: preflight found 1 problem(s)');
  t.match(r.stderr, /no AWS credentials: set AWS_PROFILE=<profile>.*AWS_ACCESS_KEY_ID \+ AWS_SECRET_ACCESS_KEY/);
  t.strictSame(h.argv(), [], 'no tool was run');
});

t.test('make deploy-dev with no AWS credentials fails in under 5 s saying what to set', async (t) => {
  const h = harness(t, []);
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: h.home, LANG: 'C.UTF-8' };
  const r = await fastest(() => runCli(['-s', '--no-print-directory', 'deploy-dev'], env, 'make', []));
  t.not(r.code, 0);
  t.ok(r.ms < 5000, `took ${r.ms} ms`);
  t.match(r.stderr, /no AWS credentials: set AWS_PROFILE=<profile>/);
});

t.test('missing tools are each reported in one line with the fix', async (t) => {
  const h = harness(t, ['aws']);
  const r = await runCli(['deploy-dev'], h.env({ ...ENV, TOFU: '/nonexistent/tofu' }));
  t.equal(r.code, 2);
  const lines = r.stderr.split('\n');
  for (const re of [
    /^ {2}kubectl not found on PATH: install kubectl/,
    /^ {2}helm not found on PATH: run `make tools`/,
    /^ {2}docker not found on PATH: install Docker with the buildx plugin/,
    /^ {2}tofu not found \(nor terraform\): run `make tools`/,
  ]) t.ok(lines.some((l) => re.test(l)), `${re}\n${r.stderr}`);
  t.strictSame(h.argv(), []);
});

t.test('credentials that do not work are reported with the AWS error', async (t) => {
  const h = harness(t);
  h.rules([
    { tool: 'aws', prefix: ['sts'], exit: 255, stderr: '\nAn error occurred (ExpiredToken) when calling the GetCallerIdentity operation: The security token included in the request is expired\n' },
    ...preflightRules(),
  ]);
  const r = await runCli(['deploy-dev'], h.env(ENV));
  t.equal(r.code, 2);
  t.match(r.stderr, 'AWS credentials do not work (An error occurred (ExpiredToken)');
  t.notOk(h.argv().some((l) => l.startsWith('platform.sh')), 'no platform change');
});

t.test('AWS_ACCOUNT_ID guards against deploying into the wrong account', async (t) => {
  const h = harness(t);
  h.rules(preflightRules());
  const r = await runCli(['deploy-dev'], h.env({ ...ENV, AWS_ACCOUNT_ID: '999999999999' }));
  t.equal(r.code, 2);
  t.match(r.stderr, `credentials are for account ${ACCOUNT}, AWS_ACCOUNT_ID says 999999999999`);
});

t.test('destroy: dev needs CONFIRM=dev; prod needs a second confirmation', async (t) => {
  const h = harness(t);
  h.rules([...preflightRules(), { tool: 'aws', args: ssmArgs('dev'), stdout: platformOutputs('dev') }]);
  let r = await runCli(['destroy', 'dev'], h.env(ENV));
  t.equal(r.code, 2);
  t.match(r.stderr, 'set CONFIRM=dev');
  r = await runCli(['destroy', 'prod'], h.env({ ...ENV, CONFIRM: 'prod' }));
  t.equal(r.code, 2);
  t.match(r.stderr, 'REFUSED: this is production: a second confirmation is required: not confirmed');
  t.match(r.stderr, 'set CONFIRM_DESTROY=prod');
  t.strictSame(h.argv(), [], 'nothing ran before confirmation');

  r = await runCli(['destroy', 'dev'], h.env({ ...ENV, CONFIRM: 'dev' }));
  t.equal(r.code, 0, r.stderr);
  t.strictSame(h.argv(), [
    ...PREFLIGHT_NO_DOCKER,
    SSM_DEV,
    kubeconfig('dev'),
    `helm uninstall fn --kubeconfig ${KUBE_DEV} --namespace functions --wait --ignore-not-found`,
    'platform.sh destroy dev',
  ]);
  t.match(r.stdout, /dev destroyed in \d+\.\ds/);
});

t.test('status prints readiness, URL, image, revisions, traffic split and ready pods', async (t) => {
  const h = harness(t);
  const pods = {
    items: [
      { metadata: { name: 'a', labels: { 'serving.knative.dev/revision': 'fn-00002' } }, status: { phase: 'Running', containerStatuses: [{ name: 'function', ready: true }, { name: 'queue-proxy', ready: true }] } },
      { metadata: { name: 'b', labels: { 'serving.knative.dev/revision': 'fn-00002' } }, status: { phase: 'Pending', containerStatuses: [{ name: 'function', ready: false }] } },
    ],
  };
  h.rules([
    { tool: 'aws', args: ssmArgs('dev'), stdout: platformOutputs('dev') },
    { tool: 'kubectl', includes: ['get', 'ksvc'], stdout: ksvc({ url: 'https://fn-functions.dev.fn.example.com', image: `${REPO}@${DIGEST}` }) },
    { tool: 'kubectl', includes: ['get', 'pods'], stdout: JSON.stringify(pods) },
  ]);
  const r = await runCli(['status', 'dev'], h.env(ENV));
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, [
    'service   fn (dev, namespace functions, cluster knfn-dev)',
    'ready     True',
    'url       https://fn-functions.dev.fn.example.com',
    `image     ${REPO}@${DIGEST}`,
    'revision  latest created fn-00002, latest ready fn-00002',
    'traffic',
    '  100%  fn-00002 (latest)',
    'pods      2',
    '  fn-00002: 1/2 ready',
    '',
  ].join('\n'));
  t.strictSame(h.argv(), [
    SSM_DEV,
    kubeconfig('dev'),
    `kubectl --kubeconfig ${KUBE_DEV} --namespace functions get ksvc fn -o json`,
    `kubectl --kubeconfig ${KUBE_DEV} --namespace functions get pods -l serving.knative.dev/service=fn -o json`,
  ]);
});

t.test('logs reads the function container of every revision pod', async (t) => {
  const h = harness(t);
  h.rules([
    { tool: 'aws', args: ssmArgs('dev'), stdout: platformOutputs('dev') },
    { tool: 'kubectl', includes: ['logs'], stdout: '[pod/fn-00002-deployment-abc/function] {"level":30,"msg":"listening"}\n' },
  ]);
  const r = await runCli(['logs', 'dev'], h.env({ ...ENV, FOLLOW: '1', TAIL: '50' }));
  t.equal(r.code, 0, r.stderr);
  t.equal(h.argv().at(-1), `kubectl --kubeconfig ${KUBE_DEV} --namespace functions logs -l serving.knative.dev/service=fn -c function --prefix --tail=50 --max-log-requests=20 --follow`);
  t.match(r.stdout, '"msg":"listening"');
});

t.test('an unknown environment is refused', async (t) => {
  const h = harness(t);
  const r = await runCli(['status', 'staging'], h.env(ENV));
  t.equal(r.code, 2);
  t.match(r.stderr, 'REFUSED: unknown environment "staging"');
  t.strictSame(h.argv(), []);
});

t.test('trace ENV=dev: a port-forward to the cluster Jaeger for scripts/trace.ts, then closed', async (t) => {
  const h = harness(t);
  const id = '4bf92f3577b34da6a3ce929d0e0e4736';
  const jaeger = join(h.dir, 'fake-jaeger.mjs');
  // Stands in for `kubectl port-forward`: serves Jaeger's query API on the local port it was given.
  writeFileSync(jaeger, `
import http from 'node:http';
const port = Number(process.argv.at(-1).split(':')[0]);
const trace = { traceID: '${id}', processes: { p1: { serviceName: 'fn' } }, spans: [
  { traceID: '${id}', spanID: '00f067aa0ba902b7', operationName: 'GET /', startTime: 1000, duration: 1500, processID: 'p1',
    tags: [{ key: 'http.response.status_code', type: 'int64', value: 200 }] } ] };
http.createServer((req, res) => {
  const hit = req.url === '/api/traces/${id}';
  res.writeHead(hit ? 200 : 404, { 'content-type': 'application/json' });
  res.end(JSON.stringify(hit ? { data: [trace] } : { data: [] }));
}).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`);
  h.rules([
    { tool: 'aws', args: ssmArgs('dev'), stdout: platformOutputs('dev') },
    { tool: 'kubectl', includes: ['port-forward'], execModule: jaeger },
  ]);
  const r = await runCli(['trace', 'dev', `00-${id}-00f067aa0ba902b7-01`], h.env(ENV));
  t.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  t.match(r.stdout, /GET \//, 'the span tree from scripts/trace.ts');
  t.match(r.stdout, /fn/);
  const argv = h.argv();
  t.strictSame(argv.slice(0, 2), [SSM_DEV, kubeconfig('dev')]);
  t.match(argv[2] ?? '', new RegExp(`^kubectl --kubeconfig ${KUBE_DEV} --namespace observability port-forward svc/jaeger \\d+:16686$`));

  const none = await runCli(['trace', 'dev'], h.env(ENV));
  t.equal(none.code, 2);
  t.match(none.stderr, 'REFUSED: no trace id given');
});

t.test('destroy resumes when the cluster is already gone', async (t) => {
  const h = harness(t);
  h.rules([
    ...preflightRules(),
    { tool: 'aws', args: ssmArgs('dev'), stdout: platformOutputs('dev') },
    { tool: 'aws', prefix: ['eks', 'update-kubeconfig'], exit: 254, stderr: '\nAn error occurred (ResourceNotFoundException) when calling the DescribeCluster operation: No cluster found for name: knfn-dev.\n' },
  ]);
  const r = await runCli(['destroy', 'dev'], h.env({ ...ENV, CONFIRM: 'dev' }));
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, 'skipped: cluster knfn-dev does not exist any more');
  t.equal(h.argv().at(-1), 'platform.sh destroy dev');
  t.notOk(h.argv().some((l) => l.startsWith('helm uninstall')));
});

t.test('preflight names a kubectl too far from the cluster version, and a missing buildx', async (t) => {
  const h = harness(t);
  h.rules([
    { tool: 'kubectl', prefix: ['version'], stdout: JSON.stringify({ clientVersion: { gitVersion: 'v1.30.2' } }) },
    { tool: 'docker', args: ['buildx', 'version'], exit: 1, stderr: "docker: 'buildx' is not a docker command.\n" },
    ...preflightRules(),
  ]);
  const r = await runCli(['deploy-dev'], h.env(ENV));
  t.equal(r.code, 2);
  t.match(r.stderr, 'REFUSED: preflight found 2 problem(s)');
  t.match(r.stderr, /kubectl 1\.30 is too far from Kubernetes 1\.\d+: install kubectl/);
  t.match(r.stderr, 'docker buildx is not available: install Docker with the buildx plugin');
  t.notOk(h.argv().some((l) => l.startsWith('platform.sh')), 'nothing changed');
});
