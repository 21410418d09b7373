import t from 'tap';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

t.test('the whole repository type-checks in strict mode (function, scripts, tests)', async (t) => {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json')], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  t.equal(r.status, 0, `tsc -p tsconfig.json:\n${r.stdout}${r.stderr}`);
});
