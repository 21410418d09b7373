/**
 * The Go unit tests of the local cluster's own components (node agent, ingress), run with `go test -json` and
 * reported one tap assertion per Go test, so a failing Go test names itself in `make test`.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../../cluster/lib/layout.ts';

interface Event {
  Action: string;
  Package?: string;
  Test?: string;
  Output?: string;
  Elapsed?: number;
}

for (const module of ['agent', 'ingress']) {
  t.test(`go test ./... in scripts/cluster/${module}`, { timeout: 10 * 60_000 }, async (t) => {
    const r = spawnSync('go', ['test', '-json', '-count=1', './...'], {
      cwd: join(ROOT, 'scripts', 'cluster', module),
      encoding: 'utf8',
      env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-buildvcs=false' },
      maxBuffer: 64 * 1024 * 1024,
    });
    const events = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Event);
    const output = new Map<string, string>();
    let tests = 0;
    for (const e of events) {
      if (!e.Test) continue;
      const key = `${e.Package}/${e.Test}`;
      if (e.Action === 'output') output.set(key, (output.get(key) ?? '') + (e.Output ?? ''));
      // Subtests are reported by their parent too; count top-level tests.
      if (e.Test.includes('/')) continue;
      if (e.Action === 'pass') {
        tests += 1;
        t.pass(`${e.Test} (${e.Elapsed ?? 0}s)`);
      } else if (e.Action === 'fail') {
        tests += 1;
        t.fail(`${e.Test}\n${output.get(key) ?? ''}`);
      }
    }
    t.equal(r.status, 0, `go test exited 0${r.status ? `:\n${r.stderr.slice(-3000)}` : ''}`);
    t.ok(tests > 0, `${tests} Go tests ran`);
  });
}
