/**
 * An optional network namespace for the "pod" (queue-proxy + function), so that the pod uses its real ports and a
 * second queue-proxy (another test suite, a running `make dev`) does not collide on queue-proxy's hard-coded
 * admin :8022 and stats :9090. A veth pair joins it to the host: the host side is where the peers (moto, Jaeger,
 * Prometheus) listen; the pod side is where callers reach queue-proxy. Needs root and iproute2 (`ip netns`).
 */
import { execFileSync } from 'node:child_process';
import { StackError } from './wait.ts';

export interface PodNetwork {
  /** Address the pod's processes use to reach the peers, and the peers bind to. */
  hostIp: string;
  /** Address of the pod as seen from the host (queue-proxy, the function's metrics port). */
  podIp: string;
  /** Wraps a command so it runs inside the pod's network. */
  wrap(command: string, args: string[]): { command: string; args: string[] };
  remove(): void;
}

/** No isolation: everything on the host's loopback (what `make dev` uses). */
export function hostNetwork(): PodNetwork {
  return {
    hostIp: '127.0.0.1',
    podIp: '127.0.0.1',
    wrap: (command, args) => ({ command, args }),
    remove: () => {},
  };
}

const ip = (args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function tryIp(args: string[]): void {
  try {
    ip(args);
  } catch {
    // best effort
  }
}

/** Kills whatever still runs in the namespace (an orphan of a killed test), then deletes it. */
function deleteNamespace(ns: string, hostIf: string): void {
  try {
    const pids = ip(['netns', 'pids', ns]).split('\n').filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  } catch {
    // no such namespace
  }
  tryIp(['netns', 'del', ns]);
  tryIp(['link', 'del', hostIf]);
}

/** Namespaces left behind by a test process that died: named kfn-<pid>-…, removed when that pid is gone. */
function removeStale(): void {
  let list = '';
  try {
    list = ip(['netns', 'list']);
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const m = /^(kfn-(\d+)-(\d+))\b/.exec(line.trim());
    if (!m) continue;
    const pid = Number(m[2]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive) deleteNamespace(m[1]!, `kfh${m[2]}x${m[3]}`.slice(0, 15));
  }
}

let counter = 0;

export function createPodNetwork(): PodNetwork {
  if (process.getuid?.() !== 0) {
    throw new StackError('an isolated pod network needs root (ip netns)', 'run the end-to-end tests as root, as CI does');
  }
  removeStale();
  counter += 1;
  const id = `${process.pid}-${counter}`;
  const ns = `kfn-${id}`;
  const hostIf = `kfh${process.pid}x${counter}`.slice(0, 15);
  const podIf = `kfp${process.pid}x${counter}`.slice(0, 15);
  // A /30 in 10.213.0.0/16 chosen from the pid and counter: distinct for concurrent suites.
  const n = (process.pid * 7 + counter) % 16_384;
  const base = n * 4;
  const subnet = `10.213.${Math.floor(base / 256) % 256}.`;
  const hostIp = `${subnet}${(base % 256) + 1}`;
  const podIp = `${subnet}${(base % 256) + 2}`;
  try {
    ip(['netns', 'add', ns]);
    ip(['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', podIf]);
    ip(['link', 'set', podIf, 'netns', ns]);
    ip(['addr', 'add', `${hostIp}/30`, 'dev', hostIf]);
    ip(['link', 'set', hostIf, 'up']);
    ip(['netns', 'exec', ns, 'ip', 'addr', 'add', `${podIp}/30`, 'dev', podIf]);
    ip(['netns', 'exec', ns, 'ip', 'link', 'set', podIf, 'up']);
  } catch (err) {
    tryIp(['netns', 'del', ns]);
    tryIp(['link', 'del', hostIf]);
    const stderr = (err as { stderr?: string }).stderr ?? String(err);
    throw new StackError(`could not create the pod network namespace ${ns}: ${stderr}`, 'needs root and iproute2 (ip netns)');
  }
  return {
    hostIp,
    podIp,
    wrap: (command, args) => ({ command: 'ip', args: ['netns', 'exec', ns, command, ...args] }),
    remove: () => deleteNamespace(ns, hostIf),
  };
}
