#!/usr/bin/env node
// Builds the function: type-check with tsc, then bundle function/src/server.ts with esbuild into dist/.
// The bundle (with code split out for what only some configurations load) is what `npm start` and the image run.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const step = async (name, fn) => {
  const t = performance.now();
  process.stdout.write(`==> ${name}\n`);
  await fn();
  process.stdout.write(`    ${name}: ${Math.round(performance.now() - t)} ms\n`);
};

await step('type-check (tsc)', () => {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
});

await step('bundle (esbuild)', async () => {
  rmSync('dist', { recursive: true, force: true });
  await build({
    entryPoints: { server: 'function/src/server.ts' },
    outdir: 'dist',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    // Prefer packages' ES module builds: named exports survive dynamic import() and tree-shaking works.
    mainFields: ['module', 'main'],
    target: 'node24',
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
    // CommonJS dependencies inside an ES module bundle still call require() for Node built-ins.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
});
