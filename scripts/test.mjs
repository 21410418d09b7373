#!/usr/bin/env node
// Runs every tap suite of the repository (see .taprc) on Node 24 and ends with one line: "N passed, N failed".
// Extra arguments go to tap (e.g. a test file to run only that one).
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const started = performance.now();
const tap = spawn(process.execPath, ['node_modules/.bin/tap', '--reporter=tap', ...process.argv.slice(2)], {
  stdio: ['ignore', 'pipe', 'inherit'],
});

let tail = '';
tap.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + String(chunk)).slice(-4096);
});

tap.on('exit', (code, signal) => {
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  // tap's closing summary: "# { total: 120, pass: 118, fail: 1, skip: 1 }"
  const m = /# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?(?:, skip: (\d+))?(?:, todo: (\d+))?[^}]*\}/.exec(tail);
  let passed = Number(m?.[2] ?? 0);
  let failed = Number(m?.[3] ?? 0);
  const skipped = Number(m?.[4] ?? 0) + Number(m?.[5] ?? 0);
  if (!m) {
    passed = 0;
    failed = 1;
    process.stdout.write(`tap ended without a summary (exit ${code ?? signal})\n`);
  } else if (code !== 0 && failed === 0) {
    // A test file that crashed or timed out is a failure even when no assertion says so.
    failed = 1;
  }
  process.stdout.write(`test run took ${seconds} s\n`);
  process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
