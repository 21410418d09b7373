// The function's bundle: the runtime (function/src/boot.ts) with the author's function module bound to the
// specifier 'knative-fn/function'. Used by scripts/build.mjs (FUNCTION) and by the tests (their fixture functions).
import { build } from 'esbuild';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
export const ROOT = resolve(import.meta.dirname, '../..');

// An ES module import of a Node built-in makes Node build the module's ESM facade, which reads every export,
// lazy getters included: for node:http that loads undici (WebSocket, MessageEvent...), about a third of a second
// of start-up. Importing built-ins through require() (as CommonJS code does) reads an export only when used.
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const BUILTIN = new RegExp(`^(node:)?(${builtinModules.map(escape).join('|')})$`);
const builtinsThroughRequire = {
  name: 'builtins-through-require',
  setup(b) {
    // Static imports through a CommonJS shim.
    b.onResolve({ filter: BUILTIN }, (args) =>
      args.kind === 'import-statement'
        ? { path: args.path.replace(/^(node:)?/, 'node:'), namespace: 'builtin' }
        : args.kind === 'dynamic-import'
          ? { path: args.path.replace(/^(node:)?/, 'node:'), namespace: 'builtin-dynamic' }
          : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
    // Dynamic imports (the AWS SDK's HTTP handler does `await import("node:http")` on the cold-start path, which
    // loaded undici) through an ES module shim: the module as `default`, and every export that is a plain value
    // as a named export. Exports behind lazy getters (node:http's WebSocket & co.) are only on `default`.
    b.onLoad({ filter: /.*/, namespace: 'builtin-dynamic' }, (args) => {
      const names = Object.entries(Object.getOwnPropertyDescriptors(require(args.path)))
        .filter(([name, d]) => 'value' in d && name !== 'default' && /^[A-Za-z_$][\w$]*$/.test(name))
        .map(([name]) => name);
      const named = names.length ? `export const { ${names.join(', ')} } = m;` : '';
      return { contents: `const m = require(${JSON.stringify(args.path)});\nexport default m;\n${named}\n`, loader: 'js' };
    });
  },
};

/** The module file of a function: FUNCTION is a folder holding index.ts, or a .ts file. Throws what is wrong. */
export function functionModule(fn) {
  const path = resolve(ROOT, fn);
  if (!existsSync(path)) throw new Error(`FUNCTION=${fn}: no such folder or file (${path})`);
  const file = statSync(path).isDirectory() ? join(path, 'index.ts') : path;
  if (!existsSync(file)) throw new Error(`FUNCTION=${fn}: the folder has no index.ts (the function's module)`);
  return file;
}

/** Checks that the module exports `routes` or `handler` (esbuild reads its exports, re-exports included). */
export async function checkExports(file, fn = file) {
  const out = await build({ entryPoints: [file], bundle: true, write: false, metafile: true, format: 'esm', platform: 'node', packages: 'external', logLevel: 'silent', outdir: '/nonexistent' });
  const exports = Object.values(out.metafile.outputs).find((o) => o.entryPoint)?.exports ?? [];
  if (!exports.includes('routes') && !exports.includes('handler')) {
    throw new Error(`FUNCTION=${fn}: ${file} exports neither \`routes\` (a Fastify plugin) nor \`handler\` (a Lambda handler); it exports: ${exports.join(', ') || 'nothing'}`);
  }
  return exports;
}

const functionPlugin = (file) => ({
  name: 'function-module',
  setup(b) {
    b.onResolve({ filter: /^knative-fn\/function$/ }, () => ({ path: file }));
  },
});

/** Bundles the runtime around the function module `file` into `outdir` (server.js and its chunks). */
export async function bundle({ file, outdir }) {
  await build({
    entryPoints: { server: join(ROOT, 'function/src/boot.ts') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    // Prefer packages' ES module builds: named exports survive dynamic import() and tree-shaking works.
    mainFields: ['module', 'main'],
    target: 'node24',
    // Less to read and parse at start-up. Identifiers are not renamed, so function and class names survive without
    // keepNames, whose __name() helper ran Object.defineProperty on every closure created per request (5 % of CPU).
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
    plugins: [functionPlugin(file), builtinsThroughRequire],
    // CommonJS dependencies inside an ES module bundle still call require() for Node built-ins.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  // The image has no package.json above dist/: without this one Node would first try each chunk as CommonJS.
  writeFileSync(join(outdir, 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);
}
