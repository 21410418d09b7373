// make deploy-prod: promotion of the digest running in dev, never a build; confirmation and refusals.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  COMMIT, COPY, DEV_SOURCE, DIGEST, ENV, KUBE_DEV, PREFLIGHT_NO_DOCKER, PROD_REPO, REPO, ROOT, SSM_PROD, fakeFunction, harness, helm, ksvc, kubeconfig, platformOutputs, prodWorld, runCli, ssmArgs, waitAndGet,
} from './deploy-fixtures.ts';

t.test('deploy-prod promotes the digest running in dev: copied as is to the prod registry, never built', async (t) => {
  const url = await fakeFunction(t);
  const h = harness(t);
  h.rules(prodWorld(url));
  const r = await runCli(['deploy-prod'], h.env({ ...ENV, CONFIRM: 'prod', AWS_PROFILE_DEV: 'dev-admin', AWS_PROFILE_PROD: 'prod-admin' }));
  t.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  t.strictSame(h.argv(), [
    ...PREFLIGHT_NO_DOCKER,
    ...DEV_SOURCE,
    'platform.sh apply prod',
    SSM_PROD,
    ...COPY,
    kubeconfig('prod'),
    helm('prod', PROD_REPO),
    ...waitAndGet('prod'),
  ]);
  t.notOk(h.argv().some((l) => l.startsWith('docker buildx build')), 'prod never builds');
  // Each environment's commands ran with that environment's credentials (the copy logs in to both registries).
  const [p, d] = ['prod-admin', 'dev-admin'];
  t.strictSame(h.calls().map((c) => c.profile), [
    p, p, p, // preflight
    d, d, d, d, // dev outputs, kubeconfig, ksvc, ECR
    p, p, // platform apply, outputs
    p, p, p, d, d, p, p, // check, logins, copy, check
    p, p, p, p, // kubeconfig, helm, wait, get
  ]);
  t.match(r.stdout, `promoting ${REPO}@${DIGEST}`);
  t.match(r.stdout, `fn is live in prod: ${url}`);
  t.match(r.stdout, `image     ${PROD_REPO}@${DIGEST}`);
  t.match(r.stdout, 'revision  fn-00007');
});

t.test('deploy-prod with a shared registry needs no copy and no docker at all', async (t) => {
  const url = await fakeFunction(t);
  const h = harness(t, ['aws', 'kubectl', 'helm', 'tofu', 'platform.sh']);
  h.rules([{ tool: 'aws', args: ssmArgs('prod'), stdout: platformOutputs('prod', { ecr_repository_url: REPO }) }, ...prodWorld(url)]);
  const r = await runCli(['deploy-prod'], h.env({ ...ENV, CONFIRM: 'prod', SKIP_PLATFORM: '1' }));
  t.equal(r.code, 0, r.stderr);
  t.strictSame(h.argv(), [...PREFLIGHT_NO_DOCKER, ...DEV_SOURCE, SSM_PROD, kubeconfig('prod'), helm('prod', REPO), ...waitAndGet('prod')]);
});

t.test('deploy-prod in CI: PROMOTE_IMAGE from the dev job, no platform apply, no dev access', async (t) => {
  const url = await fakeFunction(t);
  const h = harness(t);
  h.rules(prodWorld(url));
  const r = await runCli(['deploy-prod'], h.env({ ...ENV, CI: 'true', CONFIRM: 'prod', SKIP_PLATFORM: '1', PROMOTE_IMAGE: `${REPO}@${DIGEST}` }));
  t.equal(r.code, 0, r.stderr);
  const copy = [...COPY];
  copy[copy.findIndex((l) => l.startsWith('docker buildx imagetools'))] = `docker buildx imagetools create --prefer-index=false --tag ${PROD_REPO}:promoted-${DIGEST.slice(7, 19)} ${REPO}@${DIGEST}`;
  t.strictSame(h.argv(), [...PREFLIGHT_NO_DOCKER, SSM_PROD, ...copy, kubeconfig('prod'), helm('prod', PROD_REPO), ...waitAndGet('prod')]);
});

t.test('deploy-prod refuses without confirmation and runs nothing', async (t) => {
  const h = harness(t);
  h.rules(prodWorld('http://prod.invalid'));
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
  h.rules(prodWorld('http://prod.invalid', [
    { tool: 'kubectl', includes: [KUBE_DEV, 'get', 'ksvc'], stdout: ksvc({ url: 'http://dev.invalid', image: `${REPO}@${DIGEST}`, ready: false }) },
  ]));
  const r = await runCli(['deploy-prod'], h.env({ ...ENV, CONFIRM: 'prod' }));
  t.equal(r.code, 2);
  t.match(r.stderr, 'REFUSED: dev is not healthy: Ready=False (RevisionMissing)');
  t.notOk(h.argv().some((l) => l.includes('prod') || l.startsWith('helm upgrade')), 'prod untouched');
});

t.test('deploy-prod refuses when dev runs an image by tag, not digest', async (t) => {
  const h = harness(t);
  h.rules(prodWorld('http://prod.invalid', [
    { tool: 'kubectl', includes: [KUBE_DEV, 'get', 'ksvc'], stdout: ksvc({ url: 'http://dev.invalid', image: `${REPO}:latest` }) },
  ]));
  const r = await runCli(['deploy-prod'], h.env({ ...ENV, CONFIRM: 'prod' }));
  t.equal(r.code, 2);
  t.match(r.stderr, `REFUSED: dev runs ${REPO}:latest, not an image by digest`);
});

t.test('deploy-prod refuses when the digest is not in ECR', async (t) => {
  const h = harness(t);
  h.rules(prodWorld('http://prod.invalid', [
    { tool: 'aws', prefix: ['ecr', 'describe-images'], exit: 254, stderr: `\nAn error occurred (ImageNotFoundException) when calling the DescribeImages operation: The image with imageId {imageDigest:'${DIGEST}'} does not exist\n` },
  ]));
  const r = await runCli(['deploy-prod'], h.env({ ...ENV, CONFIRM: 'prod' }));
  t.equal(r.code, 2);
  t.match(r.stderr, `REFUSED: ${DIGEST} is not in ECR (${REPO})`);
  t.match(r.stderr, 'run make deploy-dev to rebuild and push');
  t.notOk(h.argv().some((l) => l.includes('prod') || l.startsWith('helm upgrade')), 'prod untouched');
});


/** Runs the CLI on a pseudo-terminal (util-linux `script`), typing `answer` at the prompt. */
function onTerminal(args: string[], env: NodeJS.ProcessEnv, answer: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const cmd = [process.execPath, join(ROOT, 'scripts', 'deploy', 'cli.ts'), ...args].map((a) => `'${a}'`).join(' ');
    const child = spawn('/usr/bin/script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, env: { ...env, SHELL: '/bin/sh' } });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('to go ahead:') && !child.stdin.writableEnded) child.stdin.end(`${answer}\n`);
    });
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

t.test('on a terminal, deploy-prod asks to type "prod"; anything else refuses', async (t) => {
  t.ok(existsSync('/usr/bin/script'), 'util-linux script is installed (apt-get install bsdutils)');
  const h = harness(t);
  // No AWS credentials: once confirmed, the flow goes on to preflight, which stops it before any tool runs.
  const env = h.env({ GIT_COMMIT: COMMIT });
  const no = await onTerminal(['deploy-prod'], env, 'yes');
  t.equal(no.code, 2);
  t.match(no.out, 'deploy-prod changes production. Type "prod" to go ahead:');
  t.match(no.out, 'REFUSED: deploy-prod changes production: not confirmed');
  const yes = await onTerminal(['deploy-prod'], env, 'prod');
  t.equal(yes.code, 2);
  t.notMatch(yes.out, 'not confirmed');
  t.match(yes.out, 'no AWS credentials', 'confirmed: the flow went on to preflight');
  t.strictSame(h.argv(), []);
});

t.test('deploy-prod does not copy a digest the prod registry already has (a repeated promotion)', async (t) => {
  const url = await fakeFunction(t);
  const h = harness(t);
  h.rules([
    { tool: 'aws', prefix: ['ecr', 'describe-images'], stdout: JSON.stringify({ imageDetails: [{ imageDigest: DIGEST, imageTags: [COMMIT] }] }) },
    ...prodWorld(url),
  ]);
  const r = await runCli(['deploy-prod'], h.env({ ...ENV, CONFIRM: 'prod', SKIP_PLATFORM: '1' }));
  t.equal(r.code, 0, r.stderr);
  t.notOk(h.calls().some((c) => c.tool === 'docker'), 'no registry login, no copy');
  t.match(r.stdout, 'already in the prod registry (promoted before): nothing to copy');
});
