// make deploy-dev driven through scripts/deploy/cli.ts with stub aws/docker/kubectl/helm/platform.sh on PATH:
// exact argv and order, the digest handed from the build to helm, and where each failure stops.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  ACCOUNT, COMMIT, DIGEST, ENV, FIXTURE_FUNCTION, TAG_CHECK, KUBE_DEV, PREFLIGHT_DEV, REPO, ROOT, SSM_DEV, TRACE, devWorld, fakeFunction, harness, helm, ksvc, kubeconfig, normalise, runCli, ssmArgs, waitAndGet,
} from './deploy-fixtures.ts';

t.test('deploy-dev: preflight, apply, build by digest, helm with that digest, wait, smoke test', async (t) => {
  const url = await fakeFunction(t);
  const h = harness(t);
  h.rules(devWorld(url));
  const ghOutput = join(h.dir, 'github-output');
  const r = await runCli(['deploy-dev'], h.env({ ...ENV, GITHUB_OUTPUT: ghOutput }));
  t.equal(r.code, 0, `exit 0\n${r.stdout}\n${r.stderr}`);
  t.strictSame(normalise(h.argv()), [
    ...PREFLIGHT_DEV,
    'platform.sh apply dev',
    SSM_DEV,
    kubeconfig('dev'),
    'aws ecr get-login-password --region eu-west-1',
    `docker login --username AWS --password-stdin ${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`,
    TAG_CHECK,
    `docker buildx build --platform linux/arm64 --file ${ROOT}/Dockerfile --tag ${REPO}:${COMMIT} --label org.opencontainers.image.revision=${COMMIT} --provenance=false --build-arg FUNCTION=${FIXTURE_FUNCTION} --metadata-file <tmp>/metadata.json --push ${ROOT}`,
    helm('dev', REPO),
    ...waitAndGet('dev'),
  ]);
  const login = h.calls().find((c) => c.tool === 'docker' && c.args[0] === 'login');
  t.equal(login?.stdin, 'not-a-real-password\n', 'the registry password goes to docker through stdin');
  t.notMatch(h.argv().join('\n'), /not-a-real-password/, 'and never appears in any argv');
  t.notMatch(r.stdout + r.stderr, /not-a-real-password/, 'nor in the output');
  // What a person sees: each step with its duration, the URL, the trace, how to open Grafana and Jaeger.
  t.match(r.stdout, /==> 1\. preflight\n[\s\S]*ok: preflight \(\d+\.\ds\)/);
  t.match(r.stdout, /==> 9\. smoke test\n[\s\S]*ok: smoke test \(\d+\.\ds\)/);
  t.match(r.stdout, `fn is live in dev: ${url}`);
  t.match(r.stdout, `image     ${REPO}@${DIGEST}`);
  t.match(r.stdout, `make trace ENV=dev ID=${TRACE}`);
  t.match(r.stdout, `-n observability port-forward svc/jaeger 16686:16686  then open http://localhost:16686/trace/${TRACE}`);
  t.match(r.stdout, '-n observability port-forward svc/kps-grafana 3000:80  then open http://localhost:3000');
  t.match(r.stdout, `AWS account ${ACCOUNT}`);
  t.equal(readFileSync(ghOutput, 'utf8'), `image=${REPO}@${DIGEST}\ndigest=${DIGEST}\nurl=${url}\ntrace_id=${TRACE}\n`, 'CI gets the image for the prod job');
});

t.test('deploy-dev with SKIP_PLATFORM=1 (CI) reads the outputs without applying, and needs no tofu', async (t) => {
  const url = await fakeFunction(t);
  const h = harness(t, ['aws', 'kubectl', 'helm', 'docker', 'platform.sh']);
  h.rules(devWorld(url));
  const r = await runCli(['deploy-dev'], h.env({ ...ENV, SKIP_PLATFORM: '1', TOFU: '/nonexistent/tofu' }));
  t.equal(r.code, 0, r.stderr);
  t.notOk(h.argv().some((l) => l.startsWith('platform.sh')), 'no platform change');
  t.equal(h.argv()[PREFLIGHT_DEV.length], SSM_DEV);
});

t.test('deploy-dev builds the function FUNCTION names into the image', async (t) => {
  const url = await fakeFunction(t);
  const h = harness(t);
  h.rules(devWorld(url));
  const r = await runCli(['deploy-dev'], h.env({ ...ENV, FUNCTION: 'function/examples/lambda' }));
  t.equal(r.code, 0, `exit 0\n${r.stdout}\n${r.stderr}`);
  const build = h.argv().find((l) => l.startsWith('docker buildx build'));
  t.match(build, / --build-arg FUNCTION=function\/examples\/lambda /, 'the build argument carries the FUNCTION setting');
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

t.test('deploy-dev: a failed platform apply stops before anything is built', async (t) => {
  const h = harness(t);
  h.rules(devWorld('http://127.0.0.1:9', [{ tool: 'platform.sh', prefix: ['apply'], exit: 1, stderr: 'Error: creating EKS Cluster (knfn-dev): AccessDeniedException\n' }]));
  const r = await runCli(['deploy-dev'], h.env(ENV));
  t.equal(r.code, 1);
  t.match(r.stderr, 'FAILED at step "platform apply (dev)": platform.sh apply dev exited with 1:\nError: creating EKS Cluster (knfn-dev): AccessDeniedException');
  t.match(r.stderr, 'try: read the error above; `make plan-dev` shows the change without applying it');
  t.equal(h.argv().at(-1), 'platform.sh apply dev');
});

t.test('deploy-dev: no platform outputs yet says the platform is not applied', async (t) => {
  const h = harness(t);
  h.rules(devWorld('http://127.0.0.1:9', [{ tool: 'aws', args: ssmArgs('dev'), exit: 254, stderr: '\nAn error occurred (ParameterNotFound) when calling the GetParameter operation: \n' }]));
  const r = await runCli(['deploy-dev'], h.env({ ...ENV, SKIP_PLATFORM: '1' }));
  t.equal(r.code, 1);
  t.match(r.stderr, 'FAILED at step "platform outputs": no platform outputs at /knfn/dev/platform-outputs (eu-west-1): the dev platform is not applied yet');
  t.match(r.stderr, 'try: run make deploy-dev without SKIP_PLATFORM');
});

t.test('deploy-dev: a build without a digest in its metadata fails the build step', async (t) => {
  const h = harness(t);
  h.rules(devWorld('http://127.0.0.1:9', [{ tool: 'docker', prefix: ['buildx', 'build'], writeArgFile: { flag: '--metadata-file', content: '{}' } }]));
  const r = await runCli(['deploy-dev'], h.env(ENV));
  t.equal(r.code, 1);
  t.match(r.stderr, /FAILED at step "image build and push[^"]*": the build's metadata file has no image digest/);
  t.notOk(h.argv().some((l) => l.startsWith('helm upgrade')));
});

t.test('deploy-dev: a revision that never gets Ready prints the failing conditions', async (t) => {
  const h = harness(t);
  h.rules(devWorld('http://127.0.0.1:9', [
    { tool: 'kubectl', includes: ['wait'], exit: 1, stderr: 'error: timed out waiting for the condition on services/fn\n' },
    { tool: 'kubectl', includes: ['get', 'ksvc'], stdout: ksvc({ url: 'http://127.0.0.1:9', image: `${REPO}@${DIGEST}`, ready: false }) },
  ]));
  const r = await runCli(['deploy-dev'], h.env({ ...ENV, WAIT_TIMEOUT_SECONDS: '30' }));
  t.equal(r.code, 1);
  t.match(r.stderr, 'FAILED at step "wait for Ready": not Ready after 30s: Ready=False (RevisionMissing): Configuration "fn" does not have any ready Revision.; ConfigurationsReady=False (RevisionFailed): Revision "fn-00002" failed with message: Back-off pulling image.');
  t.match(r.stderr, 'try: make status ENV=dev and make logs ENV=dev');
  t.ok(h.argv().includes(`kubectl --kubeconfig ${KUBE_DEV} --namespace functions wait ksvc/fn --for=condition=Ready --timeout=30s`));
});

t.test('deploy-dev: the smoke test fails on a 500 from the public URL', async (t) => {
  const url = await fakeFunction(t, 500);
  const h = harness(t);
  h.rules(devWorld(url));
  const r = await runCli(['deploy-dev'], h.env({ ...ENV, SMOKE_TIMEOUT_SECONDS: '1' }));
  t.equal(r.code, 1);
  t.match(r.stderr, 'FAILED at step "smoke test": GET / answered 500');
});


t.test('deploy-dev waits past a Ready that still describes the previous revision', async (t) => {
  const url = await fakeFunction(t);
  const h = harness(t);
  const stale = ksvc({ url, image: `${REPO}@${DIGEST}`, revision: 'fn-00002', created: 'fn-00003', generation: 3, observedGeneration: 2 });
  h.rules(devWorld(url, [
    { tool: 'kubectl', includes: ['get', 'ksvc'], stdout: stale, times: 1 },
    { tool: 'kubectl', includes: ['get', 'ksvc'], stdout: ksvc({ url, image: `${REPO}@${DIGEST}`, revision: 'fn-00003', generation: 3 }) },
  ]));
  const r = await runCli(['deploy-dev'], h.env({ ...ENV, WAIT_POLL_SECONDS: '0.1' }));
  t.equal(r.code, 0, r.stderr);
  t.equal(h.argv().filter((l) => l.includes('get ksvc fn')).length, 2, 'read again until the new generation is ready');
  t.match(r.stdout, 'revision  fn-00003');

  h.rules(devWorld(url, [{ tool: 'kubectl', includes: ['get', 'ksvc'], stdout: stale }]));
  const late = await runCli(['deploy-dev'], h.env({ ...ENV, WAIT_POLL_SECONDS: '0.1', WAIT_TIMEOUT_SECONDS: '1' }));
  t.equal(late.code, 1);
  t.match(late.stderr, 'FAILED at step "wait for Ready": not Ready after 1s: the latest revision fn-00003 is not ready yet');
});

t.test('deploy-dev reuses the image of a commit already in ECR (tags are immutable): no rebuild', async (t) => {
  const url = await fakeFunction(t);
  const h = harness(t);
  const existing = `sha256:${'cd34'.repeat(16)}`;
  h.rules(devWorld(url, [
    { tool: 'aws', prefix: ['ecr', 'describe-images'], includes: [`imageTag=${COMMIT}`], stdout: JSON.stringify({ imageDetails: [{ imageDigest: existing, imageTags: [COMMIT] }] }) },
  ]));
  const r = await runCli(['deploy-dev'], h.env(ENV));
  t.equal(r.code, 0, r.stderr);
  t.notOk(h.argv().some((l) => l.startsWith('docker buildx build')), 'not built again');
  t.ok(h.argv().some((l) => l.startsWith('helm upgrade') && l.includes(`image.digest=${existing}`)), 'helm gets the existing digest');
  t.match(r.stdout, `${COMMIT} is already in ECR: reusing it, no rebuild`);
});
