// The Makefile's test tiers (test-unit, lint, test-e2e, test-cluster, test-platform) partition the files .taprc
// includes: each file is in exactly one tier, so the tiers together run what `make test` runs and nothing twice.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, globSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function make(args: string[]): string {
  const r = spawnSync('make', ['-s', '--no-print-directory', ...args], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** TIER -> files, from `make list-test-tiers` (the lists the tier targets pass to scripts/test.mjs). */
export function tiers(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9]+):(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!.trim().split(/\s+/).filter(Boolean));
  }
  return out;
}

const taprc = parse(readFileSync(resolve(root, '.taprc'), 'utf8')) as { include: string[] };
const included = [...new Set(taprc.include.flatMap((g) => globSync(g, { cwd: root })))].sort();
const byTier = tiers(make(['list-test-tiers']));

t.test('the tiers partition the test files of .taprc', async (t) => {
  t.same([...byTier.keys()].sort(), ['CLUSTER', 'E2E', 'LINT', 'PLATFORM', 'UNIT'], 'five tiers');
  t.ok(included.length > 40, `.taprc includes the repository's test files (${included.length})`);
  const owners = new Map<string, string[]>();
  for (const [tier, files] of byTier) {
    t.ok(files.length > 0, `${tier} has files`);
    for (const f of files) {
      t.ok(existsSync(resolve(root, f)), `${tier}: ${f} exists`);
      owners.set(f, [...(owners.get(f) ?? []), tier]);
    }
  }
  const none = included.filter((f) => !owners.has(f));
  const twice = [...owners].filter(([, o]) => o.length > 1).map(([f, o]) => `${f} (${o.join(', ')})`);
  const outside = [...owners.keys()].filter((f) => !included.includes(f));
  t.same(none, [], 'every file .taprc includes is in a tier (add it to a TEST_<TIER> list in the Makefile)');
  t.same(twice, [], 'no file is in two tiers');
  t.same(outside, [], 'no tier runs a file that make test (.taprc) would not');
});

t.test("a function folder's own tests (function/<name>/test/) run in make test and make test-unit", async (t) => {
  const dir = resolve(root, 'function/tiers-probe-fn');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(resolve(dir, 'test'), { recursive: true });
  writeFileSync(resolve(dir, 'test/a.test.ts'), '');
  const file = 'function/tiers-probe-fn/test/a.test.ts';
  t.ok(taprc.include.some((g) => globSync(g, { cwd: root }).includes(file)), '.taprc includes it');
  t.ok(tiers(make(['list-test-tiers'])).get('UNIT')?.includes(file), 'make test-unit runs it');
});

t.test('make test runs every file .taprc includes (scripts/test.mjs with no file list)', async (t) => {
  const recipe = make(['-n', '-o', 'build', '-o', 'tools', 'test']).trim().split('\n');
  t.equal(recipe.at(-1), 'node scripts/test.mjs', `the last command of make test\n${recipe.join('\n')}`);
});

t.test('make help lists every tier target with its purpose', async (t) => {
  const help = make(['help']).replace(/\x1b\[[0-9;]*m/g, ''); // colours off
  for (const target of ['test', 'test-unit', 'lint', 'test-e2e', 'test-cluster', 'test-platform']) {
    t.match(help, new RegExp(`\\s${target}\\s+\\S.{10,}`), `make help shows ${target}`);
  }
});

t.test('each tier target runs its own list and installs tools', async (t) => {
  for (const [target, tier] of [['test-unit', 'UNIT'], ['lint', 'LINT'], ['test-e2e', 'E2E'], ['test-cluster', 'CLUSTER'], ['test-platform', 'PLATFORM']] as const) {
    // -n prints the recipes without running them, -B as if every tool were missing; deps and build are left out (-o).
    const recipe = make(['-n', '-B', '-o', 'build', '-o', 'deps', target]);
    const files = byTier.get(tier) ?? [];
    t.match(recipe, /scripts\/tools\/install\.sh/, `${target} installs its tools`);
    t.match(recipe, `node scripts/test.mjs ${files.join(' ')}`, `${target} runs exactly the ${tier} files`);
  }
});
