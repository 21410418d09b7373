// The start-up snapshot of a built function (function/src/snapshot.ts; docs/performance.md, "Start-up snapshot"):
// made next to the bundle by scripts/build.mjs and by the image's runtime stage, used by whatever starts the function
// as the image does (the benchmark, the tests).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Beside the bundle: the builder's entry (one CommonJS file), the blob, and which Node made the blob. */
export const SNAPSHOT_ENTRY = 'snapshot.cjs';
export const SNAPSHOT_BLOB = 'snapshot.blob';
export const SNAPSHOT_MADE_BY = 'snapshot.json';

/** The Node binary's identity as Node checks it before loading a blob (version, platform, architecture). */
export function nodeIdentity(node = process.execPath) {
  const out = node === process.execPath ? JSON.stringify([process.version, process.platform, process.arch]) : execFileSync(node, ['-p', 'JSON.stringify([process.version, process.platform, process.arch])'], { encoding: 'utf8' });
  const [version, platform, arch] = JSON.parse(out);
  return { version, platform, arch };
}

/**
 * Makes `dir`/snapshot.blob from `dir`/snapshot.cjs with the Node binary `node`, in an environment with nothing
 * but PATH (the build's variables, credentials included, never reach the blob). Throws with the builder's output.
 */
export function buildSnapshot(folder, node = process.execPath) {
  const dir = resolve(folder);
  const blob = join(dir, SNAPSHOT_BLOB);
  rmSync(blob, { force: true });
  try {
    execFileSync(node, ['--snapshot-blob', blob, '--build-snapshot', join(dir, SNAPSHOT_ENTRY)], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
  } catch (err) {
    rmSync(blob, { force: true });
    const e = /** @type {{ stderr?: string; message: string }} */ (err);
    throw new Error(`node --build-snapshot failed: ${(e.stderr ?? '').slice(-4000) || e.message}`);
  }
  writeFileSync(join(dir, SNAPSHOT_MADE_BY), `${JSON.stringify(nodeIdentity(node))}\n`);
  return blob;
}

/**
 * The arguments that start `server` (dist/server.js) with `node`: from the snapshot beside it when there is one and
 * this binary made it; else the plain entry (chunks and compile cache), the same runtime. Node refuses a blob made by
 * another version (exit 14) before any JavaScript runs, so the choice is made here, before starting it.
 */
export function serverArgs(server, node = process.execPath) {
  const dir = dirname(server);
  const blob = join(dir, SNAPSHOT_BLOB);
  const madeBy = join(dir, SNAPSHOT_MADE_BY);
  if (!existsSync(blob) || !existsSync(madeBy)) return [server];
  let made;
  try {
    made = JSON.parse(readFileSync(madeBy, 'utf8'));
  } catch {
    return [server];
  }
  const self = nodeIdentity(node);
  const same = made.version === self.version && made.platform === self.platform && made.arch === self.arch;
  return same ? ['--snapshot-blob', blob, server] : [server];
}
