/**
 * The seam between the runtime and the functions, held by their imports (read with TypeScript's own pre-processor):
 * - no runtime file (function/src) imports a function: only server.ts names the build's alias 'knative-fn/function';
 * - a function (function/example, function/examples/*) imports only the public modules ('knative-fn',
 *   'knative-fn/testing' in its tests), node: built-ins, npm packages and its own files.
 */
import t from 'tap';
import ts from 'typescript';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from './helpers/paths.js';

const PUBLIC = new Set(['knative-fn', 'knative-fn/testing']);

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(m|c)?tsx?$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}
const imports = (file: string) => importsOf(readFileSync(file, 'utf8'));

const inside = (dir: string, path: string) => !relative(dir, path).startsWith('..');
const isBuiltin = (spec: string) => spec.startsWith('node:') || builtinModules.includes(spec);

/** What is wrong with each import of a function's file (its path and source), or nothing. */
function functionImportProblems(functionDir: string, file: string, source = readFileSync(file, 'utf8')): string[] {
  const problems: string[] = [];
  for (const spec of importsOf(source)) {
    if (PUBLIC.has(spec) || isBuiltin(spec)) continue;
    if (spec.startsWith('.') || spec.startsWith('/')) {
      if (!inside(functionDir, resolve(dirname(file), spec))) problems.push(`${spec} (outside the function's folder)`);
      continue;
    }
    if (spec === 'knative-fn' || spec.startsWith('knative-fn/') || spec.startsWith('#')) problems.push(`${spec} (not a public module)`);
    // Anything else is an npm package.
  }
  return problems;
}

/** The folders that hold functions: the example, the other examples, the tests' fixtures. */
const FUNCTION_DIRS = ['function/example', 'function/examples', 'function/test'].map((d) => join(ROOT, d));

t.test('no runtime file imports a function; only server.ts names the build alias', async (t) => {
  for (const file of sources('function/src')) {
    const name = relative(ROOT, file);
    for (const spec of imports(file)) {
      if (spec === 'knative-fn/function') {
        t.equal(name, 'function/src/server.ts', `${name}: the build alias is server.ts's alone`);
      } else if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        t.notOk(FUNCTION_DIRS.some((d) => inside(d, target)), `${name} imports ${spec}: not a function`);
      } else {
        t.notOk(spec.startsWith('knative-fn'), `${name} imports ${spec}: the runtime imports itself by path`);
      }
    }
  }
});

const functions = ['function/example', ...readdirSync(join(ROOT, 'function/examples')).map((d) => `function/examples/${d}`)];
for (const dir of functions) {
  t.test(`${dir} imports only the public modules, node: built-ins, npm packages and its own files`, async (t) => {
    const files = sources(dir);
    t.ok(files.length > 0);
    for (const file of files) t.same(functionImportProblems(join(ROOT, dir), file), [], relative(ROOT, file));
  });
}

t.test('the rule catches a function reaching into the runtime', async (t) => {
  const dir = join(ROOT, 'function/example');
  const file = join(dir, 'routes/x.ts');
  t.same(functionImportProblems(dir, file, "import { rawJsonBody } from '../../src/plugins/json-body.ts';"), ['../../src/plugins/json-body.ts (outside the function\'s folder)']);
  t.same(functionImportProblems(dir, file, "import * as fn from 'knative-fn/function';"), ['knative-fn/function (not a public module)']);
  t.same(functionImportProblems(dir, file, "import { rawJsonBody } from 'knative-fn'; import { build } from 'knative-fn/testing'; import { createHmac } from 'node:crypto'; import fp from 'fastify-plugin'; import root from './root.ts';"), []);
});
