#!/usr/bin/env node
/**
 * The local Kubernetes + Knative Serving (docs/local-cluster.md).
 *
 *   node scripts/cluster/main.ts up      start it in the background, show progress, return once it serves (make cluster)
 *   node scripts/cluster/main.ts down    stop it and remove everything it made (make cluster-down)
 *   node scripts/cluster/main.ts status  say whether it runs, and where
 *   node scripts/cluster/main.ts serve   the supervisor itself, in the foreground (what `up` starts)
 *   node scripts/cluster/main.ts build   build (or find cached) the cluster's binaries and install iptables/conntrack
 *
 * Ctrl-C while `up` waits stops the bring-up and removes what it made. Needs root (network namespaces, iptables).
 * Environment: CLUSTER_PORT (host port forwarded to the ingress, default 8180), KNATIVE_FN_CLUSTER_DIR (state,
 * default ~/.cache/knative-fn/cluster: one cluster per machine), KNATIVE_FN_CACHE (tools cache), HELM (default bin/helm).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { portInUse } from '../dev/lib/wait.ts';
import { ensureBinaries } from './lib/build.ts';
import { Cluster } from './lib/cluster.ts';
import { ensureHostPackages } from './lib/network.ts';
import { CLUSTER_NETNS, hostPorts, paths, ROOT } from './lib/layout.ts';
import { clusterNetworkExists, removeClusterNetwork } from './lib/network.ts';

const READY = 'cluster ready';
const p = paths();
const ports = hostPorts();

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const fail = (line: string, hint?: string): number => {
  process.stderr.write(`make cluster: ${line}\n${hint ? `  -> ${hint}\n` : ''}`);
  return 1;
};

function supervisorPid(): number | undefined {
  if (!existsSync(p.pidFile)) return undefined;
  const pid = Number(readFileSync(p.pidFile, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

export function summary(): string {
  return `
The local Kubernetes + Knative Serving runs (state and logs in ${p.state}).
  kubeconfig  ${p.kubeconfig}      e.g.  bin/kubectl --kubeconfig ${p.kubeconfig} get ksvc -A
  ingress     http://<service>-<namespace>.localhost:${ports.ingress}/   (Knative's routes, through the cluster's ingress)
  jaeger      http://127.0.0.1:${ports.jaegerQuery}
  stop        make cluster-down`;
}

async function serve(): Promise<number> {
  mkdirSync(p.state, { recursive: true });
  writeFileSync(p.pidFile, `${process.pid}\n`);
  const cluster = new Cluster({
    paths: p,
    hostPorts: ports,
    verbose: process.env.CLUSTER_VERBOSE === '1',
    helm: process.env.HELM || join(ROOT, 'bin', 'helm'),
    knativeValues: process.env.KNATIVE_VALUES || join(ROOT, 'scripts', 'cluster', 'knative-values.yaml'),
    say: (line) => say(`==> ${line}`),
  });
  let stopping: Promise<void> | undefined;
  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      say(`==> stopping (${why}): node agent and its pods first, then the control plane`);
      const t = Date.now();
      await cluster.stop();
      rmSync(p.pidFile, { force: true });
      say(`==> stopped in ${((Date.now() - t) / 1000).toFixed(1)} s; nothing left running`);
    })();
    return stopping;
  };
  const done = new Promise<number>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void stop(sig).then(() => resolve(0)));
  });
  try {
    await cluster.start();
  } catch (err) {
    say(`==> bring-up failed: ${(err as Error).message}`);
    await stop('bring-up failed');
    return 1;
  }
  say(READY);
  return done;
}

/** Starts the supervisor in the background and follows its log until it is ready or fails. */
async function up(): Promise<number> {
  if (process.getuid?.() !== 0) return fail('needs root (network namespaces, veth, iptables)', 'run it as root, as CI does');
  ensureHostPackages(say);
  const running = supervisorPid();
  if (running) {
    say(`the cluster already runs (supervisor pid ${running})`);
    say(summary());
    return 0;
  }
  if (clusterNetworkExists()) {
    say(`removing what an earlier cluster left behind (${CLUSTER_NETNS})`);
    removeClusterNetwork();
  }
  for (const [what, port] of Object.entries(ports)) {
    if (await portInUse(port, '127.0.0.1')) return fail(`port ${port} on 127.0.0.1 (${what}) is taken`, `stop what uses it${what === 'ingress' ? ', or set CLUSTER_PORT' : ''}`);
  }
  mkdirSync(p.logs, { recursive: true });
  const log = join(p.logs, 'supervisor.log');
  writeFileSync(log, '');
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, [import.meta.filename, 'serve'], { detached: true, stdio: ['ignore', fd, fd], env: process.env });
  closeSync(fd);
  child.unref();
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  let interrupted = false;
  const onInt = (): void => {
    if (!interrupted) say('interrupted: stopping the cluster (Ctrl-C again does not speed it up)');
    interrupted = true;
    try {
      process.kill(child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onInt);
  let offset = 0;
  const buf = Buffer.alloc(64 * 1024);
  let pending = '';
  for (;;) {
    const size = statSync(log).size;
    if (size > offset) {
      const f = openSync(log, 'r');
      const n = readSync(f, buf, 0, Math.min(buf.length, size - offset), offset);
      closeSync(f);
      offset += n;
      pending += buf.subarray(0, n).toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line === READY && !interrupted) {
          say(summary());
          return 0;
        }
        say(line);
      }
      continue;
    }
    if (exited) {
      if (pending) say(pending);
      return interrupted ? 130 : fail(`the cluster did not come up; full log: ${log}`);
    }
    await sleep(200);
  }
}

async function down(): Promise<number> {
  const pid = supervisorPid();
  if (pid) {
    say(`stopping the cluster (supervisor pid ${pid}); the pods get their preStop and grace first`);
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await sleep(250);
    }
  }
  // Whatever is left (a supervisor killed with SIGKILL, a crash): everything lives in our namespaces.
  removeClusterNetwork();
  rmSync(p.pidFile, { force: true });
  rmSync(p.kubeconfig, { force: true });
  say(pid ? 'cluster stopped' : 'no cluster was running; removed anything left behind');
  return 0;
}

function status(): number {
  const pid = supervisorPid();
  if (!pid) {
    say('no local cluster runs (make cluster starts one)');
    return 1;
  }
  say(`supervisor pid ${pid}`);
  say(summary());
  return 0;
}

async function build(): Promise<number> {
  const t = Date.now();
  ensureHostPackages(say);
  await ensureBinaries(p, say);
  say(`cluster binaries ready in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  return 0;
}

const command = process.argv[2] ?? 'up';
const commands: Record<string, () => Promise<number> | number> = { up, down, status, serve, build };
if (!commands[command]) {
  process.stderr.write(`usage: node scripts/cluster/main.ts up|down|status|serve\n`);
  process.exit(2);
}
process.exit(await commands[command]!());
