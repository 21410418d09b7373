// The deploy flows behind the Makefile's Deploy targets. Each is a list of named steps; the first failure stops it.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync, copyFileSync, cpSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync,
} from 'node:fs';
import { imagesDir } from '../../cluster/lib/layout.ts';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { chartDir, contract, functionValuesFile, probePath, stateDir, valuesFile, type Context, type EnvName } from './config.ts';
import { run, runRaw, which } from './exec.ts';
import { buildAndPush, DIGEST_RE, digestOfTag, ecrLogin, gitCommit } from './image.ts';
import { digestOf, failingConditions, isReady, Kube, repositoryOf, serviceImage, type KService } from './kube.ts';
import * as platform from './platform.ts';
import { preflight } from './preflight.ts';
import { get, traceId } from './http.ts';
import { Refusal, Steps } from './steps.ts';

/** The function's container name in the chart (kubectl logs -c). */
export const CONTAINER = 'function';

const truthy = (v: string | undefined): boolean => v === '1' || v === 'true';

/**
 * Commands for one environment run with that environment's credentials: AWS_PROFILE_DEV / AWS_PROFILE_PROD, when
 * set, replace AWS_PROFILE (dev and prod usually live in different AWS accounts).
 */
export function forEnv(ctx: Context, env: EnvName): Context {
  const profile = ctx.env[`AWS_PROFILE_${env.toUpperCase()}`];
  return profile ? { ...ctx, env: { ...ctx.env, AWS_PROFILE: profile } } : ctx;
}

function waitSeconds(ctx: Context): number {
  return Number(ctx.env.WAIT_TIMEOUT_SECONDS || 300);
}

function pollMs(ctx: Context): number {
  return Number(ctx.env.WAIT_POLL_SECONDS || 2) * 1000;
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

/**
 * The chart values a deploy sets: the function's own values file (<FUNCTION>/values.yaml), the env's values file, the platform's chart_values as they are (written to a values
 * file under the env's state dir), then the image the build made.
 */
export function helmValues(ctx: Context, env: EnvName, out: platform.PlatformOutputs, repository: string, digest: string): string[] {
  const platformValues = join(stateDir(ctx, env), 'platform-values.json');
  mkdirSync(dirname(platformValues), { recursive: true });
  writeFileSync(platformValues, `${JSON.stringify(out.chartValues, null, 2)}\n`);
  const own = functionValuesFile(ctx);
  return [
    ...(own ? ['--values', own] : []),
    '--values', valuesFile(ctx, env),
    '--values', platformValues,
    '--set-string', `image.repository=${repository}`,
    // The local cluster runs dev.local/<name>:<tag> images (no registry, so no digest); AWS environments run digests.
    '--set-string', env === 'local' ? `image.tag=${digest}` : `image.digest=${digest}`,
  ];
}

function helmArgs(ctx: Context, env: EnvName, kube: Kube, out: platform.PlatformOutputs, repository: string, digest: string): string[] {
  // No --create-namespace: the platform owns the namespace, and CI's deploy role may only act inside it.
  return [
    'upgrade', '--install', out.serviceName, chartDir(ctx),
    '--kubeconfig', kube.kubeconfig,
    '--namespace', out.namespace,
    // On EKS the platform owns the namespace; the local cluster has no platform to make it.
    ...(env === 'local' ? ['--create-namespace'] : []),
    ...helmValues(ctx, env, out, repository, digest),
    '--history-max', '10', '--wait=false',
  ];
}

interface Smoke {
  url: string;
  traceId: string;
}

/**
 * The URL to call for a Knative URL: as is on EKS; on the local cluster, plain HTTP on the host port `make cluster`
 * forwards to the ingress (Knative reports https, as the platform configures it, but TLS ends at the NLB on AWS).
 */
export function callableUrl(url: string, out: platform.PlatformOutputs): string {
  if (!out.local || !url) return url;
  const u = new URL(url);
  return `http://${u.hostname}:${out.local.ingressPort}${u.pathname === '/' ? '' : u.pathname}`;
}

/**
 * GET <probe path> (the function's values `function.probePath`, default /) through the public URL until it answers
 * 200 with a traceresponse (DNS and the load balancer can lag).
 */
async function smoke(ctx: Context, url: string): Promise<Smoke> {
  const deadline = Date.now() + Number(ctx.env.SMOKE_TIMEOUT_SECONDS || 300) * 1000;
  const header = contract(ctx).traceResponseHeader.toLowerCase();
  const path = probePath(ctx);
  let last = '';
  for (;;) {
    try {
      const r = await get(`${url.replace(/\/$/, '')}${path}`, { timeoutMs: 30_000 });
      const id = traceId(r.headers[header]);
      if (r.status === 200 && id) return { url, traceId: id };
      last = r.status !== 200 ? `GET ${path} answered ${r.status}: ${r.body.slice(0, 200)}` : `GET ${path} answered 200 without a valid ${header} header`;
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
  log.out(`${out.serviceName} is live in ${env}: ${s.url}`);
  if (out.local) {
    log.out(`  image     ${image}`);
    log.out(`  try it    curl -i ${s.url}/`);
    log.out(`  trace     make trace ENV=local ID=${s.traceId}   (Jaeger: ${out.jaegerUrl}/trace/${s.traceId})`);
    log.out(`  status    make status ENV=local    logs: make logs ENV=local    cold start: make coldstart ENV=local`);
    log.out(`  kubectl   bin/kubectl --kubeconfig ${kube.kubeconfig} -n ${out.namespace} get ksvc,rev,pods`);
    return;
  }
  log.out(`  image     ${image}`);
  log.out(`  revision  ${svc.status?.latestReadyRevisionName ?? '?'}`);
  log.out(`  try it    curl -i ${s.url}/`);
  log.out(`  trace     make trace ENV=${env} ID=${s.traceId}   (the smoke request's trace)`);
  if (out.jaeger) log.out(`  jaeger    ${pf(out.jaeger, 16686)}  then open http://localhost:16686/trace/${s.traceId}`);
  if (out.grafana) log.out(`  grafana   ${pf(out.grafana, 3000)}  then open http://localhost:3000`);
  log.out(`  status    make status ENV=${env}    logs: make logs ENV=${env}    cold start: make coldstart ENV=${env}`);
}

/** In GitHub Actions, hands values to later jobs (the prod job promotes the image the dev job deployed). */
function githubOutput(ctx: Context, values: Record<string, string>): void {
  if (!ctx.env.GITHUB_OUTPUT) return;
  appendFileSync(ctx.env.GITHUB_OUTPUT, Object.entries(values).map(([k, v]) => `${k}=${v}\n`).join(''));
}

/** The built function (dist/) as a content-addressed tag: a new build is a new revision, the same build is none. */
export function distTag(root: string): string {
  const dist = join(root, 'dist');
  if (!existsSync(join(dist, 'server.js'))) throw new Refusal('dist/server.js is missing', 'run make build first');
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(path.slice(dist.length)).update(readFileSync(path));
    }
  };
  walk(dist);
  return `sha-${hash.digest('hex').slice(0, 16)}`;
}

/**
 * The local cluster's "image build": what the Dockerfile's runtime stage holds (Node and dist/), in the node agent's
 * image directory under the tag (scripts/cluster/images.json maps dev.local/knative-fn:<tag> to it). Node is
 * hard-linked when it can be (same file system), else copied; a tag already staged is left as it is.
 */
export function stageImage(ctx: Context, tag: string): string {
  const dir = join(imagesDir(ctx.env), 'knative-fn', tag);
  if (existsSync(join(dir, 'dist', 'server.js'))) return dir;
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  cpSync(join(ctx.root, 'dist'), join(tmp, 'dist'), { recursive: true });
  const node = realpathSync(join(ctx.root, 'node_modules', '.bin', 'node'));
  try {
    linkSync(node, join(tmp, 'node'));
  } catch {
    copyFileSync(node, join(tmp, 'node'));
  }
  renameSync(tmp, dir);
  return dir;
}

/**
 * make deploy-local (the last step of make cluster): the deploy's own steps against the local cluster: the built
 * function as a dev.local image, helm upgrade --install, wait Ready, smoke test. No AWS, no registry, no platform
 * apply (the cluster is the platform).
 */
export async function deployLocal(parent: Context): Promise<void> {
  const env: EnvName = 'local';
  const ctx = parent;
  const steps = new Steps(ctx.log);
  const out = await steps.step('local cluster', 'start it with make cluster', async () => platform.outputs(ctx, env));
  const kube = await steps.step('kubeconfig', 'make cluster-down, then make cluster', async () => {
    const k = await Kube.connect(ctx, env, out);
    await k.kubectl(['get', '--raw', '/readyz']);
    return k;
  });
  const tag = await steps.step('image (Node and dist/ staged as a dev.local image: no registry)', 'run make build first', async () => {
    const t = distTag(ctx.root);
    stageImage(ctx, t);
    return t;
  });
  const image = `${out.ecrRepositoryUrl}:${tag}`;
  ctx.log.out(`    image ${image}`);
  await steps.step('helm upgrade --install', '`make chart-render CHART_SCENARIO=local` shows what was sent; `make test` validates the chart', () =>
    run('helm', helmArgs(ctx, env, kube, out, out.ecrRepositoryUrl, tag), { cwd: ctx.root, env: ctx.env, stream: true }),
  );
  const svc = await steps.step('wait for Ready', 'make status ENV=local and make logs ENV=local show why the revision does not start', () =>
    kube.waitReady(out.serviceName, waitSeconds(ctx), pollMs(ctx)),
  );
  const s = await steps.step('smoke test', 'make status ENV=local; the cluster\'s logs are in ~/.cache/knative-fn/cluster/logs', () =>
    smoke(ctx, callableUrl(svc.status?.url ?? '', out)),
  );
  nextSteps(ctx, env, kube, out, svc, image, s);
  ctx.log.out(`done in ${steps.elapsed()}`);
}

export async function deployDev(parent: Context): Promise<void> {
  const env: EnvName = 'dev';
  const ctx = forEnv(parent, env);
  const skipPlatform = truthy(ctx.env.SKIP_PLATFORM);
  const steps = new Steps(ctx.log);
  await steps.step('preflight', 'fix the lines above, then run make deploy-dev again', () =>
    preflight(ctx, { docker: true, platform: !skipPlatform, helm: true }),
  );
  if (!skipPlatform) {
    await steps.step('platform apply (dev)', 'read the error above; `make plan-dev` shows the change without applying it', () =>
      platform.apply(ctx, env),
    );
  }
  const out = await steps.step('platform outputs', 'run make deploy-dev without SKIP_PLATFORM so the platform is applied first', () =>
    platform.outputs(ctx, env),
  );
  const kube = await steps.step('kubeconfig', 'check that the EKS cluster exists and your role may call eks:DescribeCluster', () =>
    Kube.connect(ctx, env, out),
  );
  const commit = await gitCommit(ctx);
  await steps.step('registry login', 'your role needs ecr:GetAuthorizationToken; try `aws ecr get-login-password` by hand', () =>
    ecrLogin(ctx, out.region, out.ecrRepositoryUrl),
  );
  const built = await steps.step(`image build and push (linux/${out.architecture}, ${commit.tag.slice(0, 12)})`,
    'run `docker buildx build .` locally to see the build error; `make build` must pass first', async () => {
      // Tags are immutable in ECR: a commit already built (a retried deploy) is reused as is, by its digest.
      const existing = commit.dirty ? undefined : await digestOfTag(ctx, out.region, out.ecrRepositoryUrl, commit.tag);
      if (existing) {
        ctx.log.out(`    ${commit.tag} is already in ECR: reusing it, no rebuild`);
        return { tag: `${out.ecrRepositoryUrl}:${commit.tag}`, digest: existing };
      }
      return buildAndPush(ctx, out.ecrRepositoryUrl, out.architecture, commit.tag);
    });
  const image = `${out.ecrRepositoryUrl}@${built.digest}`;
  ctx.log.out(`    image ${built.tag} = ${image}`);
  await steps.step('helm upgrade --install', '`make chart-render CHART_SCENARIO=dev` shows what was sent; `make test` validates the chart', () =>
    run('helm', helmArgs(ctx, env, kube, out, out.ecrRepositoryUrl, built.digest), { cwd: ctx.root, env: ctx.env, stream: true }),
  );
  const svc = await steps.step('wait for Ready', `make status ENV=${env} and make logs ENV=${env} show why the revision does not start`, () =>
    kube.waitReady(out.serviceName, waitSeconds(ctx), pollMs(ctx)),
  );
  const s = await steps.step('smoke test', 'the URL may take a few minutes to resolve on a first deploy: run make status ENV=dev, then curl the URL', () =>
    smoke(ctx, svc.status?.url ?? ''),
  );
  githubOutput(ctx, { image, digest: built.digest, url: s.url, trace_id: s.traceId });
  nextSteps(ctx, env, kube, out, svc, image, s);
  ctx.log.out(`done in ${steps.elapsed()}`);
}

interface Source {
  repository: string;
  digest: string;
  /** A tag of the image in the source repository (the commit), reused when copying to prod's registry. */
  tag?: string;
}

/** The image dev runs: by digest, healthy, and still in ECR. */
async function devSource(devCtx: Context, steps: Steps): Promise<Source> {
  const devOut = await steps.step('dev platform outputs', 'deploy to dev first: make deploy-dev', () => platform.outputs(devCtx, 'dev'));
  const devKube = await steps.step('dev kubeconfig', 'check that the dev cluster exists: make status ENV=dev', () =>
    Kube.connect(devCtx, 'dev', devOut),
  );
  const source = await steps.step('digest running in dev', 'make status ENV=dev shows what dev runs; fix dev before promoting', async () => {
    const svc = await devKube.getService(devOut.serviceName);
    if (!svc) throw new Refusal('dev has no Knative Service to promote', 'run make deploy-dev first');
    if (!isReady(svc) || svc.status?.latestReadyRevisionName !== svc.status?.latestCreatedRevisionName) {
      throw new Refusal(`dev is not healthy: ${failingConditions(svc).join('; ') || 'the latest revision is not the ready one'}`,
        'fix dev (make status ENV=dev, make logs ENV=dev) and promote again');
    }
    const img = serviceImage(svc);
    const digest = digestOf(img);
    if (!img || !digest) throw new Refusal(`dev runs ${img ?? 'no image'}, not an image by digest`, 'redeploy dev with make deploy-dev');
    return { repository: repositoryOf(img), digest } as Source;
  });
  const tags = await steps.step('digest is in ECR', 'the image was deleted (lifecycle policy?): run make deploy-dev to rebuild, then promote', () =>
    describeImage(devCtx, source.repository, source.digest),
  );
  if (!tags) {
    throw new Refusal(`${source.digest} is not in ECR (${source.repository})`, 'run make deploy-dev to rebuild and push, then promote again');
  }
  if (tags[0]) source.tag = tags[0];
  return source;
}

/** The image's tags when the digest is in the repository, undefined when it is not. */
async function describeImage(ctx: Context, repository: string, digest: string): Promise<string[] | undefined> {
  const r = await runRaw('aws', [
    'ecr', 'describe-images',
    '--region', platform.registryRegion(repository) ?? '',
    '--repository-name', platform.repositoryName(repository),
    '--image-ids', `imageDigest=${digest}`,
    '--output', 'json',
  ], { cwd: ctx.root, env: ctx.env, timeoutMs: 60_000 });
  if (r.code !== 0) {
    if (/ImageNotFoundException|RepositoryNotFoundException/.test(r.stderr)) return undefined;
    throw new Error(`aws ecr describe-images failed: ${r.stderr.trim().split('\n').pop() ?? ''}`);
  }
  const body = JSON.parse(r.stdout) as { imageDetails?: Array<{ imageTags?: string[] }> };
  return body.imageDetails?.[0]?.imageTags ?? [];
}

/** PROMOTE_IMAGE=<repo>@sha256:...: CI hands over the image its dev job deployed and verified in the same run. */
function promotedImage(ctx: Context): Source | undefined {
  const v = ctx.env.PROMOTE_IMAGE;
  if (!v) return undefined;
  const digest = digestOf(v);
  if (!digest) throw new Refusal(`PROMOTE_IMAGE=${v} is not <repository>@sha256:<digest>`, 'pass the image output of the dev deploy job');
  return { repository: repositoryOf(v), digest };
}

export async function deployProd(parent: Context): Promise<void> {
  const env: EnvName = 'prod';
  await confirm(parent, 'CONFIRM', 'prod', 'deploy-prod changes production');
  const ctx = forEnv(parent, env);
  const devCtx = forEnv(parent, 'dev');
  const skipPlatform = truthy(ctx.env.SKIP_PLATFORM);
  const steps = new Steps(ctx.log);
  await steps.step('preflight', 'fix the lines above, then run make deploy-prod again', () =>
    preflight(ctx, { docker: false, platform: !skipPlatform, helm: true }),
  );
  const source = promotedImage(ctx) ?? (await devSource(devCtx, steps));
  ctx.log.out(`    promoting ${source.repository}@${source.digest}`);
  if (!skipPlatform) {
    await steps.step('platform apply (prod)', 'read the error above; `make plan-prod` shows the change without applying it', () =>
      platform.apply(ctx, env),
    );
  }
  const out = await steps.step('prod platform outputs', 'run make deploy-prod without SKIP_PLATFORM so prod is applied first', () =>
    platform.outputs(ctx, env),
  );
  if (out.ecrRepositoryUrl !== source.repository) {
    // Prod has its own registry (its own account): copy the manifest as is, so the digest stays the same.
    await steps.step('copy the image to the prod registry (same digest)',
      "pulling dev's image across accounts needs ecr_pull_repository_arns (prod) and ecr_pull_principal_arns (dev) applied: docs/deploy.md, CI/CD step 3", async () => {
        if (await describeImage(ctx, out.ecrRepositoryUrl, source.digest)) {
          ctx.log.out('    already in the prod registry (promoted before): nothing to copy');
          return;
        }
        if (!which('docker', ctx.env.PATH)) throw new Error('docker (with buildx) is needed to copy the image between registries');
        await ecrLogin(ctx, out.region, out.ecrRepositoryUrl);
        await ecrLogin(devCtx, platform.registryRegion(source.repository) ?? out.region, source.repository);
        const tag = source.tag ?? `promoted-${source.digest.slice(7, 19)}`;
        await run('docker', ['buildx', 'imagetools', 'create', '--prefer-index=false', '--tag', `${out.ecrRepositoryUrl}:${tag}`, `${source.repository}@${source.digest}`], {
          cwd: ctx.root,
          env: ctx.env,
          stream: true,
        });
        if (!(await describeImage(ctx, out.ecrRepositoryUrl, source.digest))) {
          throw new Error(`${source.digest} is not in ${out.ecrRepositoryUrl} after the copy (the digest changed?)`);
        }
      });
  }
  const kube = await steps.step('prod kubeconfig', 'check that the prod cluster exists and that you can reach its (private) API endpoint', () =>
    Kube.connect(ctx, env, out),
  );
  await steps.step('helm upgrade --install', '`make chart-render CHART_SCENARIO=prod` shows what was sent', () =>
    run('helm', helmArgs(ctx, env, kube, out, out.ecrRepositoryUrl, source.digest), { cwd: ctx.root, env: ctx.env, stream: true }),
  );
  const svc = await steps.step('wait for Ready', 'make status ENV=prod and make logs ENV=prod show why the revision does not start', () =>
    kube.waitReady(out.serviceName, waitSeconds(ctx), pollMs(ctx)),
  );
  const s = await steps.step('smoke test', 'make status ENV=prod, then curl the URL', () => smoke(ctx, svc.status?.url ?? ''));
  const image = `${out.ecrRepositoryUrl}@${source.digest}`;
  githubOutput(ctx, { image, digest: source.digest, url: s.url, trace_id: s.traceId });
  nextSteps(ctx, env, kube, out, svc, image, s);
  ctx.log.out(`done in ${steps.elapsed()}`);
}

export async function destroy(parent: Context, env: EnvName): Promise<void> {
  await confirm(parent, 'CONFIRM', env, `destroy deletes the ${env} environment (cluster, registry, secrets)`);
  if (env === 'prod') {
    await confirm(parent, 'CONFIRM_DESTROY', 'prod', 'this is production: a second confirmation is required');
  }
  const ctx = forEnv(parent, env);
  const steps = new Steps(ctx.log);
  await steps.step('preflight', 'fix the lines above, then run the destroy again', () =>
    preflight(ctx, { docker: false, platform: true, helm: true }),
  );
  await steps.step('helm uninstall', 'run the destroy again: each step is idempotent', async () => {
    let out: platform.PlatformOutputs;
    try {
      out = await platform.outputs(ctx, env);
    } catch (err) {
      ctx.log.out(`    skipped: ${(err as Error).message}`);
      return;
    }
    let kube: Kube;
    try {
      kube = await Kube.connect(ctx, env, out);
    } catch (err) {
      // A half-destroyed environment: the cluster is gone already, so is everything the release made in it.
      if (/ResourceNotFoundException|No cluster found/.test((err as Error).message)) {
        ctx.log.out(`    skipped: cluster ${out.clusterName} does not exist any more`);
        return;
      }
      throw err;
    }
    await run('helm', ['uninstall', out.serviceName, '--kubeconfig', kube.kubeconfig, '--namespace', out.namespace, '--wait', '--ignore-not-found'], {
      cwd: ctx.root,
      env: ctx.env,
      timeoutMs: 10 * 60_000,
    });
  });
  await steps.step(`platform destroy (${env})`, 'read the error above and run the destroy again (it resumes)', () => platform.destroy(ctx, env));
  ctx.log.out(`${env} destroyed in ${steps.elapsed()}`);
}

export async function status(parent: Context, env: EnvName): Promise<void> {
  const ctx = forEnv(parent, env);
  const out = await platform.outputs(ctx, env);
  const kube = await Kube.connect(ctx, env, out);
  const name = out.serviceName;
  const svc = await kube.getService(name);
  const log = ctx.log;
  if (!svc) {
    log.out(`${name}: not deployed in ${env} (namespace ${out.namespace}); run make deploy-${env}`);
    return;
  }
  const pods = await kube.pods(`serving.knative.dev/service=${name}`);
  log.out(`service   ${name} (${env}, namespace ${out.namespace}, cluster ${out.clusterName})`);
  log.out(`ready     ${isReady(svc) ? 'True' : `False: ${failingConditions(svc).join('; ')}`}`);
  log.out(`url       ${svc.status?.url ?? '-'}`);
  log.out(`image     ${serviceImage(svc) ?? '-'}`);
  log.out(`revision  latest created ${svc.status?.latestCreatedRevisionName ?? '-'}, latest ready ${svc.status?.latestReadyRevisionName ?? '-'}`);
  log.out('traffic');
  for (const t of svc.status?.traffic ?? []) {
    log.out(`  ${String(t.percent ?? 0).padStart(3)}%  ${t.revisionName ?? '?'}${t.latestRevision ? ' (latest)' : ''}${t.tag ? `  tag ${t.tag} ${t.url ?? ''}` : ''}`);
  }
  const byRevision = new Map<string, { ready: number; total: number }>();
  for (const p of pods) {
    const rev = p.metadata.labels?.['serving.knative.dev/revision'] ?? '?';
    const e = byRevision.get(rev) ?? { ready: 0, total: 0 };
    e.total += 1;
    if (p.status?.phase === 'Running' && (p.status.containerStatuses ?? []).every((c) => c.ready)) e.ready += 1;
    byRevision.set(rev, e);
  }
  log.out(`pods      ${pods.length === 0 ? '0 (scaled to zero)' : String(pods.length)}`);
  for (const [rev, e] of byRevision) log.out(`  ${rev}: ${e.ready}/${e.total} ready`);
}

export async function logs(parent: Context, env: EnvName): Promise<void> {
  const ctx = forEnv(parent, env);
  const out = await platform.outputs(ctx, env);
  const kube = await Kube.connect(ctx, env, out);
  const args = kube.kubectlArgs([
    'logs', '-l', `serving.knative.dev/service=${out.serviceName}`, '-c', CONTAINER, '--prefix', `--tail=${ctx.env.TAIL || 200}`, '--max-log-requests=20',
  ]);
  if (truthy(ctx.env.FOLLOW)) args.push('--follow');
  const r = await runRaw('kubectl', args, { cwd: ctx.root, env: ctx.env, stream: true });
  if (r.code !== 0) throw new Error(`kubectl logs exited with ${r.code}`);
  if (!r.stdout.trim()) ctx.log.out(`(no pods: ${out.serviceName} is scaled to zero in ${env}; send a request, or FOLLOW=1 to wait)`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no free port'))));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/**
 * make trace ENV=<env> ID=<trace id>: a port-forward to the cluster's Jaeger for as long as scripts/trace.ts (the
 * same tool and output as locally) needs it. Returns trace.ts's exit code.
 */
export async function trace(parent: Context, env: EnvName, id: string | undefined): Promise<number> {
  if (!id) throw new Refusal('no trace id given', `make trace ENV=${env} ID=<trace id, or a whole traceresponse header value>`);
  const ctx = forEnv(parent, env);
  const out = await platform.outputs(ctx, env);
  if (out.jaegerUrl) {
    const r = await runRaw(process.execPath, [join(ctx.root, 'scripts', 'trace.ts'), id], {
      cwd: ctx.root,
      env: { ...ctx.env, JAEGER_URL: out.jaegerUrl },
      stream: true,
    });
    return r.code;
  }
  const jaeger = out.jaeger;
  if (!jaeger) throw new Refusal(`the ${env} platform publishes no Jaeger`, `check the jaeger output of platform/envs/${env}`);
  const kube = await Kube.connect(ctx, env, out);
  const port = await freePort();
  const args = ['--kubeconfig', kube.kubeconfig, '--namespace', jaeger.namespace, 'port-forward', `svc/${jaeger.service}`, `${port}:${jaeger.port}`];
  const pf = spawn('kubectl', args, { cwd: ctx.root, env: ctx.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let pfErr = '';
  pf.stderr.setEncoding('utf8').on('data', (d: string) => (pfErr += d));
  try {
    const deadline = Date.now() + 30_000;
    while (!(await accepts(port))) {
      if (pf.exitCode !== null || Date.now() > deadline) {
        throw new Error(`kubectl port-forward svc/${jaeger.service} did not start: ${pfErr.trim() || `exit ${pf.exitCode}`}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await runRaw(process.execPath, [join(ctx.root, 'scripts', 'trace.ts'), id], {
      cwd: ctx.root,
      env: { ...ctx.env, JAEGER_URL: `http://127.0.0.1:${port}` },
      stream: true,
    });
    return r.code;
  } finally {
    pf.kill('SIGTERM');
  }
}

export { DIGEST_RE };
