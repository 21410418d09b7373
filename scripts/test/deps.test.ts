// make deps (every target that builds depends on it) runs npm ci when package-lock.json is newer than the last
// install, but never through a node_modules that is a link: npm ci would empty the folder it points to.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** A checkout with a fresh package-lock.json and an older install; `npm` is a stub that records that it ran. */
function checkout(t: Test, linked: boolean): { dir: string; installed: string; make: () => ReturnType<typeof spawnSync> } {
  const base = mkdtempSync(join(tmpdir(), 'knative-fn-deps-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const dir = join(base, 'checkout');
  const installed = linked ? join(base, 'shared-node_modules') : join(dir, 'node_modules');
  mkdirSync(installed, { recursive: true });
  mkdirSync(dir, { recursive: true });
  if (linked) symlinkSync(installed, join(dir, 'node_modules'));
  const old = new Date(Date.now() - 3_600_000);
  writeFileSync(join(installed, '.package-lock.json'), '{}');
  utimesSync(join(installed, '.package-lock.json'), old, old);
  writeFileSync(join(dir, 'package.json'), '{}');
  writeFileSync(join(dir, 'package-lock.json'), '{}');
  const stubs = join(base, 'stubs');
  mkdirSync(stubs);
  writeFileSync(join(stubs, 'npm'), `#!/bin/sh\necho "$@" > '${join(base, 'npm-ran')}'\n`);
  chmodSync(join(stubs, 'npm'), 0o755);
  const make = () =>
    spawnSync('make', ['-s', '-C', dir, '-f', join(root, 'Makefile'), 'node_modules/.package-lock.json'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${stubs}:${process.env.PATH}` },
    });
  return { dir: base, installed, make };
}

t.test('a newer package-lock.json: npm ci runs', async (t) => {
  const c = checkout(t, false);
  const r = c.make();
  t.equal(r.status, 0, String(r.stderr));
  t.ok(existsSync(join(c.dir, 'npm-ran')), 'npm ci ran');
});

t.test('node_modules is a link: npm ci does not run through it, and make says so', async (t) => {
  const c = checkout(t, true);
  const r = c.make();
  t.equal(r.status, 0, String(r.stderr));
  t.notOk(existsSync(join(c.dir, 'npm-ran')), 'npm ci did not run');
  t.match(String(r.stdout), `node_modules links to ${c.installed}: not running npm ci through it (run it there)`);
});
