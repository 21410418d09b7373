// The deploy flows driven end to end through scripts/deploy/cli.ts with stub aws/docker/kubectl/helm/tofu on PATH:
// exact argv, order, digest hand-over, refusals, failure messages.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { ACCOUNT, COMMIT, DIGEST, Harness, ROOT, ksvc, preflightRules, runCli, tfOutputs, type Rule } from './deploy-harness.ts';

const REPO = `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/knative-fn`;
const DEV_DIR = join(ROOT, 'platform', 'envs', 'dev');
const PROD_DIR = join(ROOT, 'platform', 'envs', 'prod');
const KUBE_DEV = join(ROOT, '.cache', 'deploy', 'dev', 'kubeconfig');
const KUBE_PROD = join(ROOT, '.cache', 'deploy', 'prod', 'kubeconfig');
const DEV_ARN = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:knative-fn/dev/app-AbCdEf`;
const PROD_ARN = `arn:aws:secretsmanager:eu-central-1:${ACCOUNT}:secret:knative-fn/prod/app-AbCdEf`;
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

/** A stand-in for the public URL: answers like the function (200 JSON + traceresponse), or with `status`. */
async function fakeFunction(t: Tap, status = 200): Promise<string> {
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', traceresponse: `00-${TRACE}-00f067aa0ba902b7-01` });
    res.end(JSON.stringify({ firstRequest: false }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
type Tap = typeof t;

function harness(t: Tap, tools?: string[]): Harness {
  const h = new Harness(tools);
  t.teardown(() => h.cleanup());
  return h;
}

/** Replaces the temporary metadata-file path so argv can be compared exactly. */
function normalise(argv: string[]): string[] {
  return argv.map((a) => a.replace(/--metadata-file \S+/, '--metadata-file <tmp>/metadata.json'));
}

const PREFLIGHT_DEV = [
  'kubectl version --client -o json',
  'helm version --short',
  'docker buildx version',
  'aws sts get-caller-identity --output json',
];
const PREFLIGHT_NO_DOCKER = PREFLIGHT_DEV.filter((l) => !l.startsWith('docker'));

function devWorld(url: string, extra: Rule[] = []): Rule[] {
  return [
    ...extra,
    ...preflightRules(),
    { tool: 'tofu', args: [`-chdir=${DEV_DIR}`, 'output', '-json'], stdout: tfOutputs('dev') },
    { tool: 'aws', prefix: ['ecr', 'get-login-password'], stdout: 'not-a-real-password\n' },
    { tool: 'docker', prefix: ['login'], stdout: 'Login Succeeded\n' },
    {
      tool: 'docker',
      prefix: ['buildx', 'build'],
      writeArgFile: { flag: '--metadata-file', content: JSON.stringify({ 'containerimage.digest': DIGEST, 'image.name': `${REPO}:${COMMIT}` }) },
    },
    { tool: 'kubectl', includes: ['get', 'ksvc'], stdout: ksvc({ url, image: `${REPO}@${DIGEST}` }) },
  ];
}

const HELM_DEV = [
  `helm upgrade --install knative-fn ${ROOT}/chart --kubeconfig ${KUBE_DEV} --namespace functions --create-namespace`,
  `--values ${ROOT}/chart/ci/dev-values.yaml --set-string image.repository=${REPO} --set-string image.digest=${DIGEST}`,
  `--set-string function.awsRegion=eu-west-1 --set-string function.secrets=${DEV_ARN} --set-string serviceAccount.name=knative-fn`,
  '--history-max 10 --wait=false',
].join(' ');

const ENV = { AWS_PROFILE: 'deployer', GIT_COMMIT: COMMIT, SMOKE_TIMEOUT_SECONDS: '5' };

t.test('deploy-dev: preflight, apply, build by digest, helm with that digest, wait, smoke test', async (t) => {
  const url = await fakeFunction(t);
  const h = harness(t);
  h.rules(devWorld(url));
  const r = await runCli(['deploy-dev'], h.env(ENV));
  t.equal(r.code, 0, `exit 0\n${r.stdout}\n${r.stderr}`);
  t.strictSame(normalise(h.argv()), [
    ...PREFLIGHT_DEV,
    `tofu -chdir=${DEV_DIR} init -input=false`,
    `tofu -chdir=${DEV_DIR} apply -input=false -auto-approve`,
    `tofu -chdir=${DEV_DIR} output -json`,
    `aws eks update-kubeconfig --region eu-west-1 --name knative-fn-dev --kubeconfig ${KUBE_DEV} --alias knative-fn-dev`,
    'aws ecr get-login-password --region eu-west-1',
    `docker login --username AWS --password-stdin ${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`,
    `docker buildx build --platform linux/arm64 --file ${ROOT}/Dockerfile --tag ${REPO}:${COMMIT} --label org.opencontainers.image.revision=${COMMIT} --provenance=false --metadata-file <tmp>/metadata.json --push ${ROOT}`,
    HELM_DEV,
    `kubectl --kubeconfig ${KUBE_DEV} --namespace functions wait ksvc/knative-fn --for=condition=Ready --timeout=300s`,
    `kubectl --kubeconfig ${KUBE_DEV} --namespace functions get ksvc knative-fn -o json`,
  ]);
  const login = h.calls().find((c) => c.tool === 'docker' && c.args[0] === 'login');
  t.equal(login?.stdin, 'not-a-real-password\n', 'the registry password goes to docker through stdin');
  t.notMatch(h.argv().join('\n'), /not-a-real-password/, 'and never appears in any argv');
  t.notMatch(r.stdout + r.stderr, /not-a-real-password/, 'nor in the output');
  // What a person sees: each step with its duration, the URL, the trace, how to open Grafana and Jaeger.
  t.match(r.stdout, /==> \[1\/9\] preflight\n[\s\S]*ok: preflight \(\d+\.\ds\)/);
  t.match(r.stdout, /ok: smoke test \(\d+\.\ds\)/);
  t.match(r.stdout, `knative-fn is live in dev: ${url}`);
  t.match(r.stdout, `image     ${REPO}@${DIGEST}`);
  t.match(r.stdout, `make trace ENV=dev ID=${TRACE}`);
  t.match(r.stdout, `-n observability port-forward svc/jaeger-query 16686:16686  then open http://localhost:16686/trace/${TRACE}`);
  t.match(r.stdout, '-n monitoring port-forward svc/grafana 3000:80');
  t.match(r.stdout, `AWS account ${ACCOUNT}`);
});

t.test('deploy-dev with SKIP_PLATFORM=1 reads outputs without applying', async (t) => {
  const url = await fakeFunction(t);
  const h = harness(t);
  h.rules(devWorld(url));
  const r = await runCli(['deploy-dev'], h.env({ ...ENV, SKIP_PLATFORM: '1' }));
  t.equal(r.code, 0, r.stderr);
  const tofu = h.argv().filter((l) => l.startsWith('tofu'));
  t.strictSame(tofu, [`tofu -chdir=${DEV_DIR} init -input=false`, `tofu -chdir=${DEV_DIR} output -json`]);
});

t.test('deploy-dev stops at the first failure and names the step and what to try', async (t) => {
  const url = await fakeFunction(t);
  const h = harness(t);
  h.rules(devWorld(url, [{ tool: 'docker', prefix: ['buildx', 'build'], exit: 1, stderr: 'ERROR: failed to solve: process "/bin/sh -c npm ci" did not complete successfully\n' }]));
  const r = await runCli(['deploy-dev'], h.env(ENV));
  t.equal(r.code, 1);
  t.match(r.stderr, /FAILED at step "image build and push \(linux\/arm64, 0123456789ab\)": docker buildx build exited with 1:\nERROR: failed to solve/);
  t.match(r.stderr, /try: run `docker buildx build \.` locally/);
  const argv = h.argv();
  t.ok(argv.some((l) => l.startsWith('docker buildx build')), 'the build ran');
  t.notOk(argv.some((l) => l.startsWith('helm upgrade') || l.includes(' wait ')), 'nothing after the failed step ran');
});

t.test('deploy-dev: a build without a digest in its metadata fails the build step', async (t) => {
  const url = await fakeFunction(t);
  const h = harness(t);
  h.rules(devWorld(url, [{ tool: 'docker', prefix: ['buildx', 'build'], writeArgFile: { flag: '--metadata-file', content: '{}' } }]));
  const r = await runCli(['deploy-dev'], h.env(ENV));
  t.equal(r.code, 1);
  t.match(r.stderr, /FAILED at step "image build and push[^"]*": the build's metadata file has no image digest/);
  t.notOk(h.argv().some((l) => l.startsWith('helm upgrade')));
});

t.test('deploy-dev: a revision that never gets Ready prints the failing conditions', async (t) => {
  const h = harness(t);
  h.rules(devWorld('http://127.0.0.1:9', [
    { tool: 'kubectl', includes: ['wait'], exit: 1, stderr: 'error: timed out waiting for the condition on services/knative-fn\n' },
    { tool: 'kubectl', includes: ['get', 'ksvc'], stdout: ksvc({ url: 'http://127.0.0.1:9', image: `${REPO}@${DIGEST}`, ready: false }) },
  ]));
  const r = await runCli(['deploy-dev'], h.env({ ...ENV, WAIT_TIMEOUT_SECONDS: '30' }));
  t.equal(r.code, 1);
  t.match(r.stderr, 'FAILED at step "wait for Ready": not Ready after 30s: Ready=False (RevisionMissing): Configuration "knative-fn" does not have any ready Revision.; ConfigurationsReady=False (RevisionFailed): Revision "knative-fn-00002" failed with message: Back-off pulling image.');
  t.match(r.stderr, 'try: make status ENV=dev and make logs ENV=dev');
  t.ok(h.argv().includes(`kubectl --kubeconfig ${KUBE_DEV} --namespace functions wait ksvc/knative-fn --for=condition=Ready --timeout=30s`));
});

t.test('deploy-dev: the smoke test fails on a 500 from the public URL', async (t) => {
  const url = await fakeFunction(t, 500);
  const h = harness(t);
  h.rules(devWorld(url));
  const r = await runCli(['deploy-dev'], h.env({ ...ENV, SMOKE_TIMEOUT_SECONDS: '1' }));
  t.equal(r.code, 1);
  t.match(r.stderr, 'FAILED at step "smoke test": GET / answered 500');
});

t.test('no AWS credentials: refuses in under 5 s, says what to set, calls nothing', async (t) => {
  const h = harness(t);
  h.rules(preflightRules());
  const r = await runCli(['deploy-dev'], h.env({ GIT_COMMIT: COMMIT }));
  t.equal(r.code, 2);
  t.ok(r.ms < 5000, `took ${r.ms} ms`);
  t.match(r.stderr, 'REFUSED: preflight found 1 problem(s)');
  t.match(r.stderr, /no AWS credentials: set AWS_PROFILE=<profile>.*AWS_ACCESS_KEY_ID \+ AWS_SECRET_ACCESS_KEY/);
  t.strictSame(h.argv(), [], 'no tool was run');
});

t.test('missing tools are each reported in one line with the fix', async (t) => {
  const h = harness(t, ['aws', 'tofu']);
  const r = await runCli(['deploy-dev'], h.env(ENV));
  t.equal(r.code, 2);
  const lines = r.stderr.split('\n');
  t.ok(lines.some((l) => /^  kubectl not found on PATH: install kubectl/.test(l)), r.stderr);
  t.ok(lines.some((l) => /^  helm not found on PATH: run `make tools`/.test(l)), r.stderr);
  t.ok(lines.some((l) => /^  docker not found on PATH: install Docker with the buildx plugin/.test(l)), r.stderr);
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
  t.notOk(h.argv().some((l) => l.startsWith('tofu')), 'no platform change');
});

t.test('AWS_ACCOUNT_ID guards against deploying into the wrong account', async (t) => {
  const h = harness(t);
  h.rules(preflightRules());
  const r = await runCli(['deploy-dev'], h.env({ ...ENV, AWS_ACCOUNT_ID: '999999999999' }));
  t.equal(r.code, 2);
  t.match(r.stderr, `credentials are for account ${ACCOUNT}, AWS_ACCOUNT_ID says 999999999999`);
});

function prodWorld(devUrl: string, prodUrl: string, extra: Rule[] = []): Rule[] {
  return [
    ...extra,
    ...preflightRules(),
    { tool: 'tofu', args: [`-chdir=${DEV_DIR}`, 'output', '-json'], stdout: tfOutputs('dev') },
    { tool: 'tofu', args: [`-chdir=${PROD_DIR}`, 'output', '-json'], stdout: tfOutputs('prod') },
    { tool: 'kubectl', includes: [KUBE_DEV, 'get', 'ksvc'], stdout: ksvc({ url: devUrl, image: `${REPO}@${DIGEST}` }) },
    { tool: 'kubectl', includes: [KUBE_PROD, 'get', 'ksvc'], stdout: ksvc({ url: prodUrl, image: `${REPO}@${DIGEST}`, revision: 'knative-fn-00007' }) },
    { tool: 'aws', prefix: ['ecr', 'describe-images'], stdout: JSON.stringify({ imageDetails: [{ imageDigest: DIGEST }] }) },
  ];
}

t.test('deploy-prod promotes the digest running in dev, never builds', async (t) => {
  const url = await fakeFunction(t);
  const h = harness(t);
  h.rules(prodWorld('http://dev.invalid', url));
  const r = await runCli(['deploy-prod'], h.env({ ...ENV, CONFIRM: 'prod' }));
  t.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  t.strictSame(h.argv(), [
    ...PREFLIGHT_NO_DOCKER,
    `tofu -chdir=${DEV_DIR} init -input=false`,
    `tofu -chdir=${DEV_DIR} output -json`,
    `aws eks update-kubeconfig --region eu-west-1 --name knative-fn-dev --kubeconfig ${KUBE_DEV} --alias knative-fn-dev`,
    `kubectl --kubeconfig ${KUBE_DEV} --namespace functions get ksvc knative-fn -o json`,
    `aws ecr describe-images --region eu-west-1 --repository-name knative-fn --image-ids imageDigest=${DIGEST} --output json`,
    `tofu -chdir=${PROD_DIR} init -input=false`,
    `tofu -chdir=${PROD_DIR} apply -input=false -auto-approve`,
    `tofu -chdir=${PROD_DIR} output -json`,
    `aws eks update-kubeconfig --region eu-central-1 --name knative-fn-prod --kubeconfig ${KUBE_PROD} --alias knative-fn-prod`,
    [
      `helm upgrade --install knative-fn ${ROOT}/chart --kubeconfig ${KUBE_PROD} --namespace functions --create-namespace`,
      `--values ${ROOT}/chart/ci/prod-values.yaml --set-string image.repository=${REPO} --set-string image.digest=${DIGEST}`,
      `--set-string function.awsRegion=eu-central-1 --set-string function.secrets=${PROD_ARN} --set-string serviceAccount.name=knative-fn`,
      '--history-max 10 --wait=false',
    ].join(' '),
    `kubectl --kubeconfig ${KUBE_PROD} --namespace functions wait ksvc/knative-fn --for=condition=Ready --timeout=300s`,
    `kubectl --kubeconfig ${KUBE_PROD} --namespace functions get ksvc knative-fn -o json`,
  ]);
  t.notOk(h.calls().some((c) => c.tool === 'docker'), 'docker is never called for prod');
  t.match(r.stdout, `promoting ${REPO}@${DIGEST}`);
  t.match(r.stdout, `knative-fn is live in prod: ${url}`);
  t.match(r.stdout, 'revision  knative-fn-00007');
});

t.test('deploy-prod refuses without confirmation and runs nothing', async (t) => {
  const h = harness(t);
  h.rules(prodWorld('http://dev.invalid', 'http://prod.invalid'));
  for (const confirm of [undefined, 'yes', 'dev']) {
    const env = h.env(confirm === undefined ? ENV : { ...ENV, CONFIRM: confirm });
    const r = await runCli(['deploy-prod'], env);
    t.equal(r.code, 2, `CONFIRM=${confirm}`);
    t.match(r.stderr, /REFUSED: deploy-prod changes production: (not confirmed|CONFIRM=\w+ is not "prod")/);
    t.match(r.stderr, 'set CONFIRM=prod');
  }
  t.strictSame(h.argv(), []);
});

t.test('deploy-prod refuses when dev is not healthy', async (t) => {
  const h = harness(t);
  h.rules(prodWorld('http://dev.invalid', 'http://prod.invalid', [
    { tool: 'kubectl', includes: [KUBE_DEV, 'get', 'ksvc'], stdout: ksvc({ url: 'http://dev.invalid', image: `${REPO}@${DIGEST}`, ready: false }) },
  ]));
  const r = await runCli(['deploy-prod'], h.env({ ...ENV, CONFIRM: 'prod' }));
  t.equal(r.code, 2);
  t.match(r.stderr, 'REFUSED: dev is not healthy: Ready=False (RevisionMissing)');
  t.notOk(h.argv().some((l) => l.includes(PROD_DIR) || l.startsWith('helm upgrade')), 'prod untouched');
});

t.test('deploy-prod refuses when dev runs an image by tag, not digest', async (t) => {
  const h = harness(t);
  h.rules(prodWorld('http://dev.invalid', 'http://prod.invalid', [
    { tool: 'kubectl', includes: [KUBE_DEV, 'get', 'ksvc'], stdout: ksvc({ url: 'http://dev.invalid', image: `${REPO}:latest` }) },
  ]));
  const r = await runCli(['deploy-prod'], h.env({ ...ENV, CONFIRM: 'prod' }));
  t.equal(r.code, 2);
  t.match(r.stderr, `REFUSED: dev runs ${REPO}:latest, not an image by digest`);
});

t.test('deploy-prod refuses when the digest is not in ECR', async (t) => {
  const h = harness(t);
  h.rules(prodWorld('http://dev.invalid', 'http://prod.invalid', [
    { tool: 'aws', prefix: ['ecr', 'describe-images'], exit: 254, stderr: `\nAn error occurred (ImageNotFoundException) when calling the DescribeImages operation: The image with imageId {imageDigest:'${DIGEST}'} does not exist\n` },
  ]));
  const r = await runCli(['deploy-prod'], h.env({ ...ENV, CONFIRM: 'prod' }));
  t.equal(r.code, 2);
  t.match(r.stderr, `REFUSED: ${DIGEST} is not in ECR (An error occurred (ImageNotFoundException)`);
  t.match(r.stderr, 'run make deploy-dev to rebuild and push');
  t.notOk(h.argv().some((l) => l.includes(PROD_DIR) || l.startsWith('helm upgrade')), 'prod untouched');
});

t.test('destroy: dev needs CONFIRM=dev; prod needs a second confirmation', async (t) => {
  const h = harness(t);
  h.rules([...preflightRules(), { tool: 'tofu', args: [`-chdir=${DEV_DIR}`, 'output', '-json'], stdout: tfOutputs('dev') }]);
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
    `tofu -chdir=${DEV_DIR} init -input=false`,
    `tofu -chdir=${DEV_DIR} output -json`,
    `aws eks update-kubeconfig --region eu-west-1 --name knative-fn-dev --kubeconfig ${KUBE_DEV} --alias knative-fn-dev`,
    `helm uninstall knative-fn --kubeconfig ${KUBE_DEV} --namespace functions --wait --ignore-not-found`,
    `tofu -chdir=${DEV_DIR} init -input=false`,
    `tofu -chdir=${DEV_DIR} destroy -input=false -auto-approve`,
  ]);
  t.match(r.stdout, /dev destroyed in \d+\.\ds/);
});

t.test('status prints revision, ready pods, URL and traffic split', async (t) => {
  const h = harness(t);
  const pods = {
    items: [
      { metadata: { name: 'a', labels: { 'serving.knative.dev/revision': 'knative-fn-00002' } }, status: { phase: 'Running', containerStatuses: [{ name: 'function', ready: true }, { name: 'queue-proxy', ready: true }] } },
      { metadata: { name: 'b', labels: { 'serving.knative.dev/revision': 'knative-fn-00002' } }, status: { phase: 'Pending', containerStatuses: [{ name: 'function', ready: false }] } },
    ],
  };
  h.rules([
    { tool: 'tofu', args: [`-chdir=${DEV_DIR}`, 'output', '-json'], stdout: tfOutputs('dev') },
    { tool: 'kubectl', includes: ['get', 'ksvc'], stdout: ksvc({ url: 'https://knative-fn.functions.dev.example.com', image: `${REPO}@${DIGEST}` }) },
    { tool: 'kubectl', includes: ['get', 'pods'], stdout: JSON.stringify(pods) },
  ]);
  const r = await runCli(['status', 'dev'], h.env(ENV));
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, [
    'service   knative-fn (dev, namespace functions, cluster knative-fn-dev)',
    'ready     True',
    'url       https://knative-fn.functions.dev.example.com',
    `image     ${REPO}@${DIGEST}`,
    'revision  latest created knative-fn-00002, latest ready knative-fn-00002',
    'traffic',
    '  100%  knative-fn-00002 (latest)',
    'pods      ',
    '  knative-fn-00002: 1/2 ready',
    '',
  ].join('\n'));
  t.ok(h.argv().includes(`kubectl --kubeconfig ${KUBE_DEV} --namespace functions get pods -l serving.knative.dev/service=knative-fn -o json`));
});

t.test('logs reads the function container of every revision pod', async (t) => {
  const h = harness(t);
  h.rules([
    { tool: 'tofu', args: [`-chdir=${DEV_DIR}`, 'output', '-json'], stdout: tfOutputs('dev') },
    { tool: 'kubectl', includes: ['logs'], stdout: '[pod/knative-fn-00002-deployment-abc/function] {"level":30,"msg":"listening"}\n' },
  ]);
  const r = await runCli(['logs', 'dev'], h.env({ ...ENV, FOLLOW: '1', TAIL: '50' }));
  t.equal(r.code, 0, r.stderr);
  t.equal(h.argv().at(-1), `kubectl --kubeconfig ${KUBE_DEV} --namespace functions logs -l serving.knative.dev/service=knative-fn -c function --prefix --tail=50 --max-log-requests=20 --follow`);
  t.match(r.stdout, '"msg":"listening"');
});

t.test('an unknown environment is refused', async (t) => {
  const h = harness(t);
  const r = await runCli(['status', 'staging'], h.env(ENV));
  t.equal(r.code, 2);
  t.match(r.stderr, 'REFUSED: unknown environment "staging"');
  t.strictSame(h.argv(), []);
});
