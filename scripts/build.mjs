#!/usr/bin/env node
// Builds the function named by FUNCTION (a folder with index.ts, default function/example): check its module,
// type-check the runtime and the function with tsc, bundle function/src/boot.ts around it with esbuild into dist/
// (scripts/lib/bundle.mjs), then fill dist/compile-cache/ (V8 code for every chunk) by loading the bundle once. The
// result is what `npm start` and the image run; start-up costs and what each step buys are in docs/performance.md.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROOT, bundle, bundleSnapshotEntry, checkExports, functionModule } from './lib/bundle.mjs';
import { SNAPSHOT_ENTRY, buildSnapshot } from './lib/snapshot.mjs';

const FUNCTION = process.env.FUNCTION || 'function/example';

const step = async (name, fn) => {
  const t = performance.now();
  process.stdout.write(`==> ${name}\n`);
  await fn();
  process.stdout.write(`    ${name}: ${Math.round(performance.now() - t)} ms\n`);
};

let file;
let instrumented;
await step(`function (${FUNCTION})`, async () => {
  try {
    file = functionModule(FUNCTION);
    await checkExports(file, FUNCTION);
  } catch (err) {
    process.stderr.write(`build: ${err.message}\n`);
    process.exit(1);
  }
});

await step('type-check (tsc)', () => {
  // The runtime (tsconfig.build.json) and the function's folder, tests included.
  // (Written under dist/, so that tsc finds node_modules from there.)
  mkdirSync('dist', { recursive: true });
  const dir = mkdtempSync(join(ROOT, 'dist', 'tsc-'));
  let failed = false;
  try {
    const folder = file.endsWith('/index.ts') ? dirname(file) : undefined;
    const include = [join(ROOT, 'function/src/**/*.ts'), ...(folder ? [join(folder, '**/*.ts')] : [file])];
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: join(ROOT, 'tsconfig.build.json'), include }));
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', join(dir, 'tsconfig.json')], { stdio: 'inherit' });
  } catch {
    // tsc printed its errors above; no stack trace of this script after them.
    failed = true;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (failed) {
    process.stderr.write(`build: the type-check failed (tsc's errors above); nothing was bundled\n`);
    process.exit(1);
  }
});

await step('bundle (esbuild)', async () => {
  rmSync('dist', { recursive: true, force: true });
  instrumented = await bundle({ file, outdir: 'dist' });
  for (const [name, hooked] of instrumented) process.stdout.write(`    instrumentations patch, where bundled: ${[...hooked].join(', ')}\n`);
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

await step('start-up snapshot (dist/snapshot.blob)', async () => {
  // One CommonJS file of the same runtime and function, evaluated by `node --build-snapshot`: the process begins from
  // the evaluated heap (function/src/snapshot.ts). The image makes its blob again with its own Node binary (the
  // Dockerfile): a blob only loads in the Node version that made it.
  await bundleSnapshotEntry({ file, outfile: `dist/${SNAPSHOT_ENTRY}`, instrumented });
  if (!process.argv.includes('--no-snapshot-blob')) buildSnapshot('dist');
});
