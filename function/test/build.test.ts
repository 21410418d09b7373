/**
 * The build takes the function by path (FUNCTION): it says clearly when the path names nothing, or a module that
 * exports neither `routes` nor `handler`, before type-checking or bundling anything.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { bundle, checkExports, functionModule } from '../../scripts/lib/bundle.mjs';
import { NODE, ROOT } from './helpers/paths.js';

const build = (fn: string) => spawnSync(NODE, ['scripts/build.mjs'], { cwd: ROOT, env: { ...process.env, FUNCTION: fn }, encoding: 'utf8' });

t.test('a folder is its index.ts; a .ts file is itself', async (t) => {
  t.equal(functionModule('function/example'), join(ROOT, 'function/example/index.ts'));
  t.equal(functionModule('function/test/fixtures/lambda-compat.ts'), join(ROOT, 'function/test/fixtures/lambda-compat.ts'));
  t.same(await checkExports(functionModule('function/test/fixtures/lifecycle')), ['init', 'routes', 'shutdown']);
});

t.test('FUNCTION naming nothing: the build stops at once and says so', async (t) => {
  const r = build('function/no-such-function');
  t.equal(r.status, 1);
  t.match(r.stderr, 'build: FUNCTION=function/no-such-function: no such folder or file');
  t.notMatch(r.stdout, /type-check/, 'nothing else ran');
  const empty = build('function/test/helpers');
  t.equal(empty.status, 1);
  t.match(empty.stderr, 'FUNCTION=function/test/helpers: the folder has no index.ts');
});

t.test('a module exporting neither routes nor handler: the build stops and names what it exports', async (t) => {
  const dir = mkdtempSync(join(ROOT, 'function/test/fixtures/.tmp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'index.ts'), "export const route = async () => {};\nexport function init() {}\n");
  const r = build(relative(ROOT, dir));
  t.equal(r.status, 1);
  t.match(r.stderr, /exports neither `routes` \(a Fastify plugin\) nor `handler` \(a Lambda handler\); it exports: init, route/);
  writeFileSync(join(dir, 'index.ts'), "export { handler } from '../lambda-echo/index.ts';\n");
  t.same(await checkExports(join(dir, 'index.ts')), ['handler'], 'a re-export counts');
});

t.test("a type error: tsc's error, one line saying the build stopped, no stack trace, nothing bundled", async (t) => {
  const dir = mkdtempSync(join(ROOT, 'function/test/fixtures/.tmp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'index.ts'), "export const routes = async () => {\n  const n: number = 'one';\n  void n;\n};\n");
  const r = build(relative(ROOT, dir));
  t.equal(r.status, 1);
  t.match(r.stdout, /index\.ts\(2,9\): error TS2322/, "tsc's error");
  t.match(r.stderr, "build: the type-check failed (tsc's errors above); nothing was bundled");
  t.notMatch(r.stderr, /Command failed|\n\s+at /, 'no stack trace');
  t.notMatch(r.stdout, /bundle \(esbuild\)/, 'nothing bundled');
});

t.test('a function without optional exports (env, init, ...) bundles with no warning', async (t) => {
  const outdir = mkdtempSync(join(ROOT, 'function/test/fixtures/.tmp-'));
  t.teardown(() => rmSync(outdir, { recursive: true, force: true }));
  const script = `import { bundle } from ${JSON.stringify(join(ROOT, 'scripts/lib/bundle.mjs'))};
    await bundle({ file: ${JSON.stringify(join(ROOT, 'function/test/fixtures/basic/index.ts'))}, outdir: ${JSON.stringify(outdir)} });`;
  const r = spawnSync(NODE, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.notMatch(r.stderr, /WARNING|will always be undefined/, 'esbuild says nothing');
});

t.test('the build runs a function module only when it exports instrumentations, and says so when that fails', async (t) => {
  const dir = mkdtempSync(join(ROOT, 'function/test/fixtures/.tmp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const outdir = join(dir, 'out');
  // A module that needs its run-time environment when it loads.
  const needsEnv = "if (!process.env.NEEDED_AT_RUN_TIME) throw new Error('NEEDED_AT_RUN_TIME is not set');\n";
  writeFileSync(join(dir, 'index.ts'), `${needsEnv}export const routes = async () => {};\n`);
  await bundle({ file: join(dir, 'index.ts'), outdir });
  t.pass('without an instrumentations export it is bundled, never run');
  writeFileSync(join(dir, 'index.ts'), `${needsEnv}export const routes = async () => {};\nexport const instrumentations = [];\n`);
  await t.rejects(bundle({ file: join(dir, 'index.ts'), outdir }), {
    message: /exports `instrumentations`, so the build loads it once to read them, and loading it failed: NEEDED_AT_RUN_TIME is not set\. Read settings in `init` or the routes/,
  });
});
