#!/usr/bin/env node
// Builds the function: type-check with tsc, then bundle function/src/boot.ts with esbuild into dist/, then fill
// dist/compile-cache/ (V8 code for every chunk) by loading the bundle once. The result is what `npm start` and the
// image run; start-up costs and what each step buys are in docs/performance.md.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { builtinModules, createRequire } from 'node:module';
import { chmodSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);

const step = async (name, fn) => {
  const t = performance.now();
  process.stdout.write(`==> ${name}\n`);
  await fn();
  process.stdout.write(`    ${name}: ${Math.round(performance.now() - t)} ms\n`);
};

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

await step('type-check (tsc)', () => {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
});

await step('bundle (esbuild)', async () => {
  rmSync('dist', { recursive: true, force: true });
  await build({
    entryPoints: { server: 'function/src/boot.ts' },
    outdir: 'dist',
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
    plugins: [builtinsThroughRequire],
    // CommonJS dependencies inside an ES module bundle still call require() for Node built-ins.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  // The image has no package.json above dist/: without this one Node would first try each chunk as CommonJS.
  writeFileSync('dist/package.json', `${JSON.stringify({ type: 'module' })}\n`);
});

await step('compile cache (dist/compile-cache)', () => {
  // Loads every chunk once (the server starts on a free port with nothing configured, then exits), so that the
  // cache holds the lazily loaded chunks too (Secrets Manager client, OTLP exporters).
  const warm = `
    import { enableCompileCache, flushCompileCache } from 'node:module';
    import { readdirSync } from 'node:fs';
    enableCompileCache({ directory: 'dist/compile-cache', portable: true });
    for (const f of readdirSync('dist').filter((f) => f.endsWith('.js') && f !== 'server.js')) await import('./dist/' + f);
    flushCompileCache();
    process.exit(0);
  `;
  execFileSync(process.execPath, ['--input-type=module', '-e', warm], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { PATH: process.env.PATH ?? '', PORT: '0', METRICS_PORT: '0', SECRETS: '', OTEL_TRACES_EXPORTER: 'none', LOG_LEVEL: 'silent' },
  });
  // Node keys the cache by user id too (<node version>-<arch>-<flags hash>-<uid>): the image build runs as root but
  // the image runs as --compile-cache-uid, so the entries are handed to that user.
  const uid = /^--compile-cache-uid=(\d+)$/.exec(process.argv.find((a) => a.startsWith('--compile-cache-uid=')) ?? '')?.[1];
  const own = `-${process.getuid?.() ?? 0}`;
  if (uid !== undefined && `-${uid}` !== own) {
    for (const dir of readdirSync('dist/compile-cache').filter((d) => d.endsWith(own))) {
      renameSync(`dist/compile-cache/${dir}`, `dist/compile-cache/${dir.slice(0, -own.length)}-${uid}`);
    }
  }
  // Node writes the entries for its own user only (0600); the image copies them owned by root.
  for (const entry of readdirSync('dist/compile-cache', { recursive: true, withFileTypes: true })) {
    chmodSync(`${entry.parentPath}/${entry.name}`, entry.isDirectory() ? 0o755 : 0o644);
  }
});
