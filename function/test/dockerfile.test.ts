/**
 * The image cannot be built here (no Docker engine), so this test replays the Dockerfile: the same commands on the
 * same files, stage by stage, then starts the runtime stage's CMD as the image's non-root user from a read-only copy.
 */
import t from 'tap';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, cpSync, realpathSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { NODE, ROOT, tool } from './helpers/paths.js';

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string;
  steps: Instruction[];
}

/** A small Dockerfile reader: line continuations, comments, ARG defaults, stages. */
export function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [op = '', ...rest] = line.split(/\s+/);
    const argText = rest.join(' ');
    const upper = op.toUpperCase();
    if (upper === 'ARG' && stages.length === 0) {
      const [k = '', v = ''] = argText.split('=');
      args[k] = v;
    } else if (upper === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(argText);
      const from = (m?.[1] ?? '').replace(/\$\{(\w+)\}/g, (_, k: string) => args[k] ?? '');
      stages.push({ from, name: m?.[2] ?? String(stages.length), steps: [] });
    } else {
      stages.at(-1)?.steps.push({ op: upper, args: argText });
    }
  }
  return { args, stages };
}

/** .dockerignore with the patterns this repository uses (`*`, `!path`, `path/`). */
function ignored(path: string, patterns: string[]): boolean {
  let out = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const p = (negate ? raw.slice(1) : raw).replace(/\/$/, '');
    const hit = p === '*' || path === p || path.startsWith(`${p}/`);
    if (hit) out = !negate;
  }
  return out;
}

function copyContext(src: string, dest: string, patterns: string[]) {
  const rel = relative(ROOT, src);
  if (ignored(rel, patterns)) {
    // A directory can hold re-included paths; a file cannot.
    if (!statSync(src).isDirectory()) throw new Error(`COPY of ${rel}, which .dockerignore excludes`);
  }
  if (statSync(src).isDirectory()) {
    mkdirSync(dest, { recursive: true });
    for (const entry of readdirSync(src)) {
      const child = join(src, entry);
      const childRel = relative(ROOT, child);
      if (ignored(childRel, patterns) && !patterns.some((p) => p.startsWith(`!${childRel}`))) continue;
      copyContext(child, join(dest, entry), patterns);
    }
  } else {
    mkdirSync(dirname(dest), { recursive: true });
    cpSync(src, dest);
  }
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const { args, stages } = parseDockerfile(dockerfile);

t.test('hadolint finds nothing', async (t) => {
  const r = spawnSync(tool('bin/hadolint'), ['Dockerfile'], { cwd: ROOT, encoding: 'utf8' });
  t.equal(r.status, 0, `hadolint:\n${r.stdout}${r.stderr}`);
});

t.test('the image runs the Node major the tests run on', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string>; engines: { node: string } };
  const major = pkg.devDependencies.node?.split('.')[0];
  t.equal(args.NODE_MAJOR, major, 'Dockerfile ARG NODE_MAJOR = package.json devDependency node major');
  t.equal(pkg.engines.node, `>=${major} <${Number(major) + 1}`);
  const running = execFileSync(NODE, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
  t.equal(running.split('.')[0], major, 'tests run on that major');
  t.match(stages[0]?.from, new RegExp(`^node:${major}-`));
  t.match(stages.at(-1)?.from, new RegExp(`^gcr\\.io/distroless/nodejs${major}-debian\\d+:nonroot$`));
});

t.test('runtime stage: non-root, exec-form node CMD, only the built output', async (t) => {
  const runtime = stages.at(-1)!;
  const user = runtime.steps.find((s) => s.op === 'USER');
  t.equal(user?.args, '65532:65532', 'numeric non-root user');
  const cmd = JSON.parse(runtime.steps.find((s) => s.op === 'CMD')?.args ?? '[]') as string[];
  t.same(cmd, ['/nodejs/bin/node', '--snapshot-blob', 'dist/snapshot.blob', 'dist/server.js'], 'exec form, node directly, from the start-up snapshot');
  const copies = runtime.steps.filter((s) => s.op === 'COPY');
  t.same(copies.map((c) => c.args), ['--from=snapshot /app/dist ./dist'], 'copies the bundle and its snapshot, nothing else');
  const snapshot = stages.find((s) => s.name === 'snapshot');
  t.equal(snapshot?.from, runtime.from, 'the snapshot is made by the runtime image\'s own Node');
  t.notOk(runtime.steps.some((s) => s.op === 'RUN'), 'no RUN in the runtime stage');
});

t.test('replaying the build and starting the result as uid 65532 from a read-only copy', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'image-'));
  chmodSync(root, 0o755);
  t.teardown(() => {
    spawnSync('chmod', ['-R', 'u+w', root]);
    rmSync(root, { recursive: true, force: true });
  });
  const patterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  // The base images' Node, at the path distroless has it.
  const nodeDir = join(root, 'nodejs/bin');
  mkdirSync(nodeDir, { recursive: true });
  // A copy of the binary itself (not a link back into this checkout, which uid 65532 may not be able to reach).
  cpSync(realpathSync(NODE), join(nodeDir, 'node'));
  const stageRoots = new Map<string, string>();
  let env: Record<string, string> = {};
  let cmd: string[] = [];
  let workdir = root;
  for (const stage of stages) {
    const stageRoot = join(root, 'stages', stage.name);
    mkdirSync(stageRoot, { recursive: true });
    stageRoots.set(stage.name, stageRoot);
    workdir = stageRoot;
    env = {};
    const buildArgs: Record<string, string> = {};
    for (const step of stage.steps) {
      const started = Date.now();
      if (step.op === 'WORKDIR') {
        workdir = join(stageRoot, step.args);
        mkdirSync(workdir, { recursive: true });
      } else if (step.op === 'COPY') {
        const parts = step.args.split(/\s+/);
        const fromFlag = parts[0]?.startsWith('--from=') ? parts.shift()?.slice('--from='.length) : undefined;
        if (parts[0]?.startsWith('--chown=')) parts.shift(); // the replay runs as one user
        const dest = parts.pop() ?? '.';
        for (const src of parts) {
          const source = fromFlag ? join(stageRoots.get(fromFlag) ?? '', src) : join(ROOT, src);
          const target = dest.endsWith('/') && !fromFlag && !statSync(source).isDirectory() ? join(workdir, dest, src.split('/').pop() ?? src) : join(workdir, dest);
          if (fromFlag) cpSync(source, target, { recursive: true });
          else copyContext(source, target, patterns);
        }
      } else if (step.op === 'RUN') {
        // Exec form (the distroless stage has no shell): the image's "/nodejs/bin/node" is this replay's copy.
        const exec = step.args.startsWith('[') ? (JSON.parse(step.args) as string[]).map((a) => (a === '/nodejs/bin/node' ? join(nodeDir, 'node') : a)) : undefined;
        const r = spawnSync(exec ? (exec[0] ?? '') : 'sh', exec ? exec.slice(1) : ['-c', step.args], {
          cwd: workdir,
          // The build machine's environment (registry, proxy and CA settings), with the image's Node first on PATH.
          env: { ...process.env, ...buildArgs, PATH: `${nodeDir}:${process.env.PATH}`, npm_config_update_notifier: 'false' },
          encoding: 'utf8',
          maxBuffer: 64 * 1024 * 1024,
        });
        t.equal(r.status, 0, `RUN ${step.args} (${Date.now() - started} ms)${r.status === 0 ? '' : `\n${r.stdout}\n${r.stderr}`}`);
        if (r.status !== 0) return;
      } else if (step.op === 'ARG') {
        // A stage's ARG is in its RUN steps' environment, with its default unless docker build --build-arg sets it.
        const [k = '', v = ''] = step.args.split('=');
        buildArgs[k] = v;
      } else if (step.op === 'ENV') {
        const [k = '', v = ''] = step.args.split('=');
        env[k] = v;
      } else if (step.op === 'CMD') {
        cmd = JSON.parse(step.args) as string[];
      }
    }
  }

  const app = workdir;
  t.ok(existsSync(join(app, 'dist/server.js')), 'the runtime stage holds dist/server.js');
  t.notOk(existsSync(join(app, 'node_modules')), 'and no node_modules: the bundle needs none');
  // Image layers are world-readable whatever the build machine's umask; the working copy is read-only.
  spawnSync('chmod', ['-R', 'a+rX', root]);
  spawnSync('chmod', ['-R', 'a-w', app]);
  // The image's "/nodejs/bin/node" is this replay's copy.
  const [bin = '', ...rest] = cmd;
  const exe = bin === '/nodejs/bin/node' ? join(nodeDir, 'node') : bin;
  // The test runner adds its own hooks to NODE_OPTIONS of every child; the image has none.
  const asImageUser = ['--reuid=65532', '--regid=65532', '--clear-groups', '--', 'env', '-u', 'NODE_OPTIONS'];
  const child = spawn('setpriv', [...asImageUser, exe, ...rest], {
    cwd: app,
    env: { ...env, PORT: '0', METRICS_PORT: '0', SECRETS: '', OTEL_TRACES_EXPORTER: 'none', HOME: '/nonexistent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  child.stderr.on('data', (d) => (out += String(d)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${out}`)), 20_000);
    child.stdout.on('data', () => {
      const m = /"port":(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}:\n${out}`)));
  });
  const res = await fetch(`http://127.0.0.1:${port}/`);
  t.equal(res.status, 200, 'serves GET / as uid 65532 from a read-only working copy');
  t.match(out, /"msg":"listening"/);
  t.match(out, /"snapshot":true/, 'started from the start-up snapshot the runtime stage made');
  const write = spawnSync('setpriv', [...asImageUser, exe, '-e', "require('fs').writeFileSync('probe','x')"], { cwd: app, encoding: 'utf8' });
  t.not(write.status, 0, 'the working copy really is read-only for that user');
  t.match(write.stderr, /EACCES: permission denied, open 'probe'/);
  child.kill('SIGTERM');
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  t.equal(code, 0, code === 0 ? 'drains and exits 0 on SIGTERM' : `drains and exits 0 on SIGTERM (got ${code ?? signal}):\n${out}`);
  writeFileSync(join(root, 'done'), '');
});
