// The image: built once for the cluster's architecture, pushed to ECR, tagged with the commit, known by digest.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, runRaw } from './exec.ts';
import { gitCommitEnvOverride, type Context } from './config.ts';
import { registryHost, repositoryName } from './platform.ts';

export const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export interface Commit {
  /** The image tag: the commit, or `<commit>-dirty-<UTC time>` for a working tree with uncommitted changes. */
  tag: string;
  /** True when the tree has uncommitted changes: such an image is always built anew. */
  dirty: boolean;
}

export async function gitCommit(ctx: Context): Promise<Commit> {
  const fromEnv = gitCommitEnvOverride(ctx);
  if (fromEnv) return { tag: fromEnv, dirty: false };
  const sha = (await run('git', ['rev-parse', 'HEAD'], { cwd: ctx.root, env: ctx.env })).trim();
  const changes = (await run('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ctx.root, env: ctx.env })).trim();
  if (!changes) return { tag: sha, dirty: false };
  // The repository's tags are immutable: a build of uncommitted work gets a tag of its own.
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return { tag: `${sha}-dirty-${stamp}`, dirty: true };
}

/** The digest an image tag points to in an ECR repository, or undefined when the tag is not there. */
export async function digestOfTag(ctx: Context, region: string, repositoryUrl: string, tag: string): Promise<string | undefined> {
  const r = await runRaw('aws', [
    'ecr', 'describe-images', '--region', region, '--repository-name', repositoryName(repositoryUrl), '--image-ids', `imageTag=${tag}`, '--output', 'json',
  ], { cwd: ctx.root, env: ctx.env, timeoutMs: 60_000 });
  if (r.code !== 0) {
    if (/ImageNotFoundException/.test(r.stderr)) return undefined;
    throw new Error(`aws ecr describe-images failed: ${r.stderr.trim().split('\n').pop() ?? ''}`);
  }
  const digest = (JSON.parse(r.stdout) as { imageDetails?: Array<{ imageDigest?: string }> }).imageDetails?.[0]?.imageDigest;
  return digest && DIGEST_RE.test(digest) ? digest : undefined;
}

/** Logs docker in to ECR; the password goes through stdin only, never argv or logs. */
export async function ecrLogin(ctx: Context, region: string, repositoryUrl: string): Promise<void> {
  const password = await run('aws', ['ecr', 'get-login-password', '--region', region], { cwd: ctx.root, env: ctx.env });
  await run('docker', ['login', '--username', 'AWS', '--password-stdin', registryHost(repositoryUrl)], {
    cwd: ctx.root,
    env: ctx.env,
    input: password,
  });
}

export interface Built {
  tag: string;
  digest: string;
}

/** `docker buildx build --push`, then the digest from the build's metadata file. */
export async function buildAndPush(ctx: Context, repositoryUrl: string, architecture: string, commit: string): Promise<Built> {
  const dir = mkdtempSync(join(tmpdir(), 'knative-fn-build-'));
  const metadataFile = join(dir, 'metadata.json');
  const tag = `${repositoryUrl}:${commit}`;
  try {
    await run(
      'docker',
      [
        'buildx', 'build',
        '--platform', `linux/${architecture}`,
        '--file', join(ctx.root, 'Dockerfile'),
        '--tag', tag,
        '--label', `org.opencontainers.image.revision=${commit}`,
        '--provenance=false',
        // The function built into the image: the same FUNCTION setting as make build (a folder in this checkout).
        '--build-arg', `FUNCTION=${ctx.env.FUNCTION?.trim() || 'function/example'}`,
        '--metadata-file', metadataFile,
        '--push',
        ctx.root,
      ],
      { cwd: ctx.root, env: ctx.env, stream: true },
    );
    const meta = JSON.parse(readFileSync(metadataFile, 'utf8')) as Record<string, unknown>;
    const digest = meta['containerimage.digest'];
    if (typeof digest !== 'string' || !DIGEST_RE.test(digest)) {
      throw new Error(`the build's metadata file has no image digest (containerimage.digest = ${JSON.stringify(digest)})`);
    }
    return { tag, digest };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
