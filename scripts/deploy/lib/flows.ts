// The deploy flows behind the Makefile's Deploy targets. Each is a list of named steps; the first failure stops it.
import { createInterface } from 'node:readline/promises';
import { chartDir, contract, valuesFile, type Context, type EnvName } from './config.ts';
import { run, runRaw } from './exec.ts';
import { buildAndPush, DIGEST_RE, ecrLogin, gitCommit } from './image.ts';
import { digestOf, failingConditions, isReady, Kube, repositoryOf, serviceImage, type KService } from './kube.ts';
import * as platform from './platform.ts';
import { preflight } from './preflight.ts';
import { get, traceId } from './http.ts';
import { Refusal, Steps } from './steps.ts';

/** Helm release name; the chart's full name (hence the Knative Service name and URL) follows from it. */
export const RELEASE = 'knative-fn';
export const SERVICE = 'knative-fn';
/** The function's container name in the chart (kubectl logs -c). */
export const CONTAINER = 'function';

const truthy = (v: string | undefined): boolean => v === '1' || v === 'true';

function waitSeconds(ctx: Context): number {
  return Number(ctx.env.WAIT_TIMEOUT_SECONDS || 300);
}

/** Asks for the env name on a terminal; anything else (or no terminal) refuses. */
async function confirm(ctx: Context, variable: string, expected: string, what: string): Promise<void> {
  if (ctx.env[variable] === expected) return;
  if (ctx.env[variable] !== undefined && ctx.env[variable] !== '') {
    throw new Refusal(`${what}: ${variable}=${ctx.env[variable]} is not "${expected}"`, `set ${variable}=${expected} to go ahead`);
  }
  if (process.stdin.isTTY && !truthy(ctx.env.CI)) {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = (await rl.question(`${what}. Type "${expected}" to go ahead: `)).trim();
    rl.close();
    if (answer === expected) return;
  }
  throw new Refusal(`${what}: not confirmed`, `set ${variable}=${expected} (in CI the job sets it after the environment's approval)`);
}

function helmArgs(ctx: Context, env: EnvName, kube: Kube, out: platform.PlatformOutputs, repository: string, digest: string): string[] {
  const args = [
    'upgrade', '--install', RELEASE, chartDir(ctx),
    '--kubeconfig', kube.kubeconfig,
    '--namespace', out.namespace,
    '--create-namespace',
    '--values', valuesFile(ctx, env),
    '--set-string', `image.repository=${repository}`,
    '--set-string', `image.digest=${digest}`,
    '--set-string', `function.awsRegion=${out.region}`,
    '--set-string', `function.secrets=${out.secretArns.join('\\,')}`,
    '--set-string', `serviceAccount.name=${out.serviceAccount}`,
  ];
  if (out.otlpEndpoint) args.push('--set-string', `telemetry.otlpEndpoint=${out.otlpEndpoint}`);
  args.push('--history-max', '10', '--wait=false');
  return args;
}

interface Smoke {
  url: string;
  traceId: string;
}

/** GET / through the public URL until it answers 200 with a traceresponse (DNS and the load balancer can lag). */
async function smoke(ctx: Context, url: string): Promise<Smoke> {
  const deadline = Date.now() + Number(ctx.env.SMOKE_TIMEOUT_SECONDS || 300) * 1000;
  const header = contract(ctx).traceResponseHeader.toLowerCase();
  let last = '';
  for (;;) {
    try {
      const r = await get(`${url.replace(/\/$/, '')}/`, { timeoutMs: 30_000 });
      const id = traceId(r.headers[header]);
      if (r.status === 200 && id) return { url, traceId: id };
      last = r.status !== 200 ? `GET / answered ${r.status}: ${r.body.slice(0, 200)}` : `GET / answered 200 without a valid ${header} header`;
    } catch (err) {
      last = `GET ${url}/: ${(err as Error).message}`;
    }
    if (Date.now() >= deadline) throw new Error(last);
    await new Promise((r) => setTimeout(r, Math.min(3000, Math.max(100, deadline - Date.now()))));
  }
}

function nextSteps(ctx: Context, env: EnvName, kube: Kube, out: platform.PlatformOutputs, svc: KService, image: string, s: Smoke): void {
  const pf = (p: platform.PortForward, local: number): string =>
    `kubectl --kubeconfig ${kube.kubeconfig} -n ${p.namespace} port-forward svc/${p.service} ${local}:${p.port}`;
  const log = ctx.log;
  log.out('');
  log.out(`${SERVICE} is live in ${env}: ${s.url}`);
  log.out(`  image     ${image}`);
  log.out(`  revision  ${svc.status?.latestReadyRevisionName ?? '?'}`);
  log.out(`  try it    curl -i ${s.url}/`);
  log.out(`  trace     make trace ENV=${env} ID=${s.traceId}   (the smoke request's trace)`);
  if (out.jaeger) log.out(`  jaeger    ${pf(out.jaeger, 16686)}  then open http://localhost:16686/trace/${s.traceId}`);
  if (out.grafana) log.out(`  grafana   ${pf(out.grafana, 3000)}  then open http://localhost:3000`);
  log.out(`  status    make status ENV=${env}    logs: make logs ENV=${env}    cold start: make coldstart ENV=${env}`);
}

export async function deployDev(ctx: Context): Promise<void> {
  const env: EnvName = 'dev';
  const skipPlatform = truthy(ctx.env.SKIP_PLATFORM);
  const steps = new Steps(ctx.log, skipPlatform ? 8 : 9);
  await steps.step('preflight', 'fix the lines above, then run make deploy-dev again', () =>
    preflight(ctx, { docker: true, platform: true, helm: true }),
  );
  if (!skipPlatform) {
    await steps.step('platform apply (dev)', 'read the plan error above; `make plan-dev` shows the change without applying it', () =>
      platform.apply(ctx, env),
    );
  }
  const out = await steps.step('platform outputs', 'run make deploy-dev without SKIP_PLATFORM so the platform is applied first', () =>
    platform.outputs(ctx, env, skipPlatform),
  );
  const kube = await steps.step('kubeconfig', 'check that the EKS cluster exists and your role may call eks:DescribeCluster', () =>
    Kube.connect(ctx, env, out),
  );
  const commit = await gitCommit(ctx);
  await steps.step('registry login', 'your role needs ecr:GetAuthorizationToken; check `aws ecr get-login-password` by hand', () =>
    ecrLogin(ctx, out.region, out.ecrRepositoryUrl),
  );
  const built = await steps.step(`image build and push (linux/${out.architecture}, ${commit.slice(0, 12)})`,
    'run `docker buildx build .` locally to see the build error; `make build` must pass first', () =>
      buildAndPush(ctx, out.ecrRepositoryUrl, out.architecture, commit),
  );
  ctx.log.out(`    image ${built.tag} = ${out.ecrRepositoryUrl}@${built.digest}`);
  await steps.step('helm upgrade --install', '`helm template chart -f chart/ci/dev-values.yaml` shows what was sent; `make test` validates the chart', () =>
    run('helm', helmArgs(ctx, env, kube, out, out.ecrRepositoryUrl, built.digest), { cwd: ctx.root, stream: true }),
  );
  const svc = await steps.step('wait for Ready', `make status ENV=${env} and make logs ENV=${env} show why the revision does not start`, () =>
    kube.waitReady(SERVICE, waitSeconds(ctx)),
  );
  const s = await steps.step('smoke test', 'the URL may take a few minutes to resolve on a first deploy: run make status ENV=dev, then curl the URL', () =>
    smoke(ctx, svc.status?.url ?? ''),
  );
  nextSteps(ctx, env, kube, out, svc, `${out.ecrRepositoryUrl}@${built.digest}`, s);
  ctx.log.out(`done in ${steps.elapsed()}`);
}

export async function deployProd(ctx: Context): Promise<void> {
  const env: EnvName = 'prod';
  await confirm(ctx, 'CONFIRM', 'prod', 'deploy-prod changes production');
  const skipPlatform = truthy(ctx.env.SKIP_PLATFORM);
  const steps = new Steps(ctx.log, skipPlatform ? 9 : 10);
  await steps.step('preflight', 'fix the lines above, then run make deploy-prod again', () =>
    preflight(ctx, { docker: false, platform: true, helm: true }),
  );
  const devOut = await steps.step('dev platform outputs', 'deploy to dev first: make deploy-dev', () => platform.outputs(ctx, 'dev'));
  const devKube = await steps.step('dev kubeconfig', 'check that the dev cluster exists: make status ENV=dev', () =>
    Kube.connect(ctx, 'dev', devOut),
  );
  const image = await steps.step('digest running in dev', 'make status ENV=dev shows what dev runs; fix dev before promoting', async () => {
    const svc = await devKube.getService(SERVICE);
    if (!svc) throw new Refusal('dev has no Knative Service to promote', 'run make deploy-dev first');
    if (!isReady(svc) || svc.status?.latestReadyRevisionName !== svc.status?.latestCreatedRevisionName) {
      throw new Refusal(`dev is not healthy: ${failingConditions(svc).join('; ') || 'the latest revision is not the ready one'}`,
        'fix dev (make status ENV=dev, make logs ENV=dev) and promote again');
    }
    const img = serviceImage(svc);
    const digest = digestOf(img);
    if (!img || !digest) throw new Refusal(`dev runs ${img ?? 'no image'}, not an image by digest`, 'redeploy dev with make deploy-dev');
    return { repository: repositoryOf(img), digest };
  });
  ctx.log.out(`    promoting ${image.repository}@${image.digest}`);
  await steps.step('digest is in ECR', 'the image was deleted (lifecycle policy?): run make deploy-dev to rebuild, then promote', async () => {
    const r = await runRaw('aws', [
      'ecr', 'describe-images', '--region', devOut.region,
      '--repository-name', platform.repositoryName(image.repository),
      '--image-ids', `imageDigest=${image.digest}`, '--output', 'json',
    ], { cwd: ctx.root, timeoutMs: 60_000 });
    if (r.code !== 0) {
      throw new Refusal(`${image.digest} is not in ECR (${r.stderr.trim().split('\n').pop() ?? ''})`,
        'run make deploy-dev to rebuild and push, then promote again');
    }
  });
  if (!skipPlatform) {
    await steps.step('platform apply (prod)', 'read the error above; `make plan-prod` shows the change without applying it', () =>
      platform.apply(ctx, env),
    );
  }
  const out = await steps.step('prod platform outputs', 'run make deploy-prod without SKIP_PLATFORM so prod is applied first', () =>
    platform.outputs(ctx, env, skipPlatform),
  );
  const kube = await steps.step('prod kubeconfig', 'check that the prod cluster exists and your role may call eks:DescribeCluster', () =>
    Kube.connect(ctx, env, out),
  );
  await steps.step('helm upgrade --install', '`helm template chart -f chart/ci/prod-values.yaml` shows what was sent', () =>
    run('helm', helmArgs(ctx, env, kube, out, image.repository, image.digest), { cwd: ctx.root, stream: true }),
  );
  const svc = await steps.step('wait for Ready', 'make status ENV=prod and make logs ENV=prod show why the revision does not start', () =>
    kube.waitReady(SERVICE, waitSeconds(ctx)),
  );
  const s = await steps.step('smoke test', 'make status ENV=prod, then curl the URL', () => smoke(ctx, svc.status?.url ?? ''));
  nextSteps(ctx, env, kube, out, svc, `${image.repository}@${image.digest}`, s);
  ctx.log.out(`done in ${steps.elapsed()}`);
}

export async function destroy(ctx: Context, env: EnvName): Promise<void> {
  await confirm(ctx, 'CONFIRM', env, `destroy deletes the ${env} environment (cluster, registry, secrets)`);
  if (env === 'prod') {
    await confirm(ctx, 'CONFIRM_DESTROY', 'prod', 'this is production: a second confirmation is required');
  }
  const steps = new Steps(ctx.log, 3);
  await steps.step('preflight', `fix the lines above, then run the destroy again`, () =>
    preflight(ctx, { docker: false, platform: true, helm: true }),
  );
  await steps.step('helm uninstall', 'if the cluster is already gone, run the platform destroy alone: scripts/deploy/cli.ts is idempotent, run it again', async () => {
    let out: platform.PlatformOutputs;
    try {
      out = await platform.outputs(ctx, env);
    } catch {
      ctx.log.out('    no platform outputs: nothing deployed, skipping');
      return;
    }
    const kube = await Kube.connect(ctx, env, out);
    const r = await runRaw('helm', ['uninstall', RELEASE, '--kubeconfig', kube.kubeconfig, '--namespace', out.namespace, '--wait', '--ignore-not-found'], {
      cwd: ctx.root,
      timeoutMs: 10 * 60_000,
    });
    if (r.code !== 0) throw new Error(r.stderr.trim());
  });
  await steps.step(`platform destroy (${env})`, 'read the error above and run the destroy again (it resumes)', () => platform.destroy(ctx, env));
  ctx.log.out(`${env} destroyed in ${steps.elapsed()}`);
}

export async function status(ctx: Context, env: EnvName): Promise<void> {
  const out = await platform.outputs(ctx, env);
  const kube = await Kube.connect(ctx, env, out);
  const svc = await kube.getService(SERVICE);
  const log = ctx.log;
  if (!svc) {
    log.out(`${SERVICE}: not deployed in ${env} (namespace ${out.namespace}); run make deploy-${env}`);
    return;
  }
  const pods = await kube.pods(`serving.knative.dev/service=${SERVICE}`);
  log.out(`service   ${SERVICE} (${env}, namespace ${out.namespace}, cluster ${out.clusterName})`);
  log.out(`ready     ${isReady(svc) ? 'True' : `False: ${failingConditions(svc).join('; ')}`}`);
  log.out(`url       ${svc.status?.url ?? '-'}`);
  log.out(`image     ${serviceImage(svc) ?? '-'}`);
  log.out(`revision  latest created ${svc.status?.latestCreatedRevisionName ?? '-'}, latest ready ${svc.status?.latestReadyRevisionName ?? '-'}`);
  log.out('traffic');
  for (const t of svc.status?.traffic ?? []) {
    log.out(`  ${String(t.percent ?? 0).padStart(3)}%  ${t.revisionName ?? '?'}${t.latestRevision ? ' (latest)' : ''}${t.tag ? ` tag ${t.tag} ${t.url ?? ''}` : ''}`);
  }
  const byRevision = new Map<string, { ready: number; total: number }>();
  for (const p of pods) {
    const rev = p.metadata.labels?.['serving.knative.dev/revision'] ?? '?';
    const e = byRevision.get(rev) ?? { ready: 0, total: 0 };
    e.total += 1;
    if ((p.status?.containerStatuses ?? []).every((c) => c.ready) && p.status?.phase === 'Running') e.ready += 1;
    byRevision.set(rev, e);
  }
  log.out(`pods      ${pods.length === 0 ? '0 (scaled to zero)' : ''}`);
  for (const [rev, e] of byRevision) log.out(`  ${rev}: ${e.ready}/${e.total} ready`);
}

export async function logs(ctx: Context, env: EnvName): Promise<void> {
  const out = await platform.outputs(ctx, env);
  const kube = await Kube.connect(ctx, env, out);
  const args = kube.kubectlArgs([
    'logs', '-l', `serving.knative.dev/service=${SERVICE}`, '-c', CONTAINER, '--prefix', `--tail=${ctx.env.TAIL || 200}`, '--max-log-requests=20',
  ]);
  if (truthy(ctx.env.FOLLOW)) args.push('--follow');
  const r = await runRaw('kubectl', args, { cwd: ctx.root, stream: true });
  if (r.code !== 0) throw new Error(`kubectl logs exited with ${r.code}`);
  if (!r.stdout.trim()) ctx.log.out(`(no pods: ${SERVICE} is scaled to zero in ${env}; send a request, or FOLLOW=1 to wait)`);
}

export { DIGEST_RE };
