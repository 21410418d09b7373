// The tool installs every CI job runs (`scripts/tools/install.sh ...` in a workflow's run: steps, and the ones the
// `make <tier>` a job runs does) pass as a non-root user in a fresh clone with empty caches, as on a GitHub runner:
// scripts/tools/ci-local.sh runs them (Go-built tools seeded from this machine's cache to bound the time; the
// downloads, venvs and the Prometheus .deb run for real). Needs root to create that user; skipped otherwise (on
// a runner the jobs themselves are this check).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const INSTALL = /^scripts\/tools\/install\.sh\b.*$/;

interface Step { run?: string; env?: Record<string, string> }
interface Job { steps?: Step[]; strategy?: { matrix?: Record<string, unknown> } }

/** Every `scripts/tools/install.sh ...` command the workflows and their local actions run, directly or via make. */
export function installCommands(): string[] {
  const files = [
    ...readdirSync(join(root, '.github/workflows')).map((f) => join('.github/workflows', f)),
    ...readdirSync(join(root, '.github/actions')).map((d) => join('.github/actions', d, 'action.yml')),
  ].filter((f) => /\.ya?ml$/.test(f));
  const commands = new Set<string>();
  for (const file of files) {
    const doc = parse(readFileSync(join(root, file), 'utf8')) as { jobs?: Record<string, Job>; runs?: { steps?: Step[] } };
    const jobs: Job[] = [...Object.values(doc.jobs ?? {}), { steps: doc.runs?.steps }];
    for (const job of jobs) {
      for (const step of job.steps ?? []) {
        for (const line of (step.run ?? '').split('\n').map((l) => l.trim())) {
          if (INSTALL.test(line)) commands.add(line);
          const m = /^make '?([\w-]+|\$\{\{ matrix\.\w+ \}\})'?$/.exec(line);
          if (!m) continue;
          // make ${{ matrix.tier }}: each value of the matrix.
          const expr = /^\$\{\{ matrix\.(\w+) \}\}$/.exec(m[1]!);
          const targets = expr ? (job.strategy?.matrix?.[expr[1]!] as string[]) : [m[1]!];
          // The step's env reaches make (e.g. CLUSTER_KUBECONFIG); expressions stand in as a placeholder.
          const env = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, String(v).includes('${{') ? 'ci' : String(v)]));
          for (const target of targets) {
            // -B: every tool file as if missing, so make prints each install the target can run.
            const r = spawnSync('make', ['-s', '--no-print-directory', '-n', '-B', '-o', 'build', '-o', 'deps', target], {
              cwd: root, encoding: 'utf8', env: { ...process.env, ...env },
            });
            if (r.status !== 0) throw new Error(`${file}: make -n ${target}: ${r.stderr}`);
            for (const l of r.stdout.split('\n').map((x) => x.trim())) if (INSTALL.test(l)) commands.add(l.replace(/\s+$/, ''));
          }
        }
      }
    }
  }
  return [...commands].sort();
}

const commands = installCommands();

t.test('the workflows\' tool installs are found', async (t) => {
  t.ok(commands.includes('scripts/tools/install.sh helm kind'), `the kind job's install (found: ${commands.join(' | ')})`);
  t.ok(commands.includes('scripts/tools/install.sh prometheus'), 'make test-unit\'s installs');
  const usage = spawnSync(join(root, 'scripts/tools/install.sh'), ['--help'], { encoding: 'utf8' }).stdout;
  const all = /TOOL is one of: (.+)/.exec(usage)?.[1]?.split(' ') ?? [];
  const installed = new Set(commands.flatMap((c) => c.split(' ').slice(1)));
  t.ok(all.length > 10, `install.sh --help lists the tools (${all.join(' ')})`);
  t.same(all.filter((tool) => !installed.has(tool)), [], 'make lint installs every tool');
});

t.test('they pass as a non-root user in a fresh clone', { timeout: 40 * 60_000 }, async (t) => {
  if (process.getuid?.() !== 0) {
    t.plan(0, 'needs root to create the user (useradd, runuser); CI runs these as its runner user anyway');
    return;
  }
  const r = spawnSync(join(root, 'scripts/tools/ci-local.sh'), ['--seed', ...commands], {
    cwd: root, encoding: 'utf8', timeout: 40 * 60_000, maxBuffer: 64 * 1024 * 1024,
  });
  const out = `${r.stdout}${r.stderr}`;
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (const cmd of commands) {
    t.match(out, new RegExp(`ci-local: exit 0 after \\d+s: ${escape(cmd)}\\n`), `${cmd} exits 0 as the runner user`);
  }
  t.equal(r.status, 0, `ci-local.sh exits 0\n${out.slice(-3000)}`);
  t.match(out, new RegExp(`${commands.length} of ${commands.length} commands passed`), 'every command passed');
});
