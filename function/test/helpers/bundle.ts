/**
 * The server bundle of a fixture function (function/test/fixtures/<name>), built the way scripts/build.mjs builds
 * FUNCTION (scripts/lib/bundle.mjs) and cached by content under dist-fixtures/<name>-<hash>/: the runtime's tests run
 * the runtime around their fixtures, never around the example, whatever `make build` last built.
 * The hash covers the runtime's sources, the fixture, the bundler and the lockfile; a changed file rebuilds.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { bundle, bundleSnapshotEntry, functionModule } from '../../../scripts/lib/bundle.mjs';
import { buildSnapshot, SNAPSHOT_ENTRY } from '../../../scripts/lib/snapshot.mjs';
import { NODE, ROOT } from './paths.js';

const CACHE = join(ROOT, 'dist-fixtures');

function files(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

function contentHash(paths: string[]): string {
  const hash = createHash('sha256');
  for (const path of paths) {
    hash.update(relative(ROOT, path));
    hash.update('\0');
    hash.update(readFileSync(path));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

const built = new Map<string, Promise<string>>();

/** dist-fixtures/<name>-<hash>/server.js for function/test/fixtures/<name> (a folder with index.ts, or <name>.ts). */
export function fixtureServer(name = 'basic'): Promise<string> {
  let running = built.get(name);
  if (running === undefined) {
    running = build(name);
    built.set(name, running);
  }
  return running;
}

async function build(name: string): Promise<string> {
  const fixtureDir = join(ROOT, 'function/test/fixtures', name);
  const fixture = existsSync(fixtureDir) ? fixtureDir : `${fixtureDir}.ts`;
  const file = functionModule(fixture);
  const inputs = [...files(join(ROOT, 'function/src')), ...files(fixture), join(ROOT, 'scripts/lib/bundle.mjs'), join(ROOT, 'scripts/lib/snapshot.mjs'), join(ROOT, 'package-lock.json')];
  const dir = join(CACHE, `${name}-${contentHash(inputs)}`);
  const server = join(dir, 'server.js');
  if (existsSync(server)) return server;
  mkdirSync(CACHE, { recursive: true });
  // Built aside, then renamed into place: test files running side by side never see half a bundle.
  const work = mkdtempSync(join(CACHE, `.${name}-`));
  try {
    const instrumented = await bundle({ file, outdir: work });
    // And its start-up snapshot, as scripts/build.mjs makes it: the processes start from it as the image's do.
    await bundleSnapshotEntry({ file, outfile: join(work, SNAPSHOT_ENTRY), instrumented });
    buildSnapshot(work, NODE);
    try {
      renameSync(work, dir);
    } catch (err) {
      if (!existsSync(server)) throw err; // another test file built the same bundle first
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return server;
}
