/**
 * The node's network: a namespace of our own with the node address on its loopback, a veth pair to the host so
 * kubectl, helm and the tests on the host reach the apiserver and the ingress, and the teardown of it and of every
 * pod namespace the node agent made (also after a crash: everything is found by name).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_NETNS, HOST_LINK, imagesDir, NODE_IP, POD_NETNS_PREFIX, toolsCache } from './layout.ts';

const ip = (args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function quiet(args: string[]): void {
  try {
    ip(args);
  } catch {
    // best effort: already gone
  }
}

export function namespaces(): string[] {
  try {
    return ip(['netns', 'list'])
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0] ?? '')
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Pids of the processes inside a namespace. */
export function pidsIn(ns: string): number[] {
  try {
    return ip(['netns', 'pids', ns]).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** kube-proxy needs iptables and conntrack; installed from the distribution's packages when missing (root). */
export function ensureHostPackages(say: (line: string) => void): void {
  const missing = ['iptables', 'conntrack'].filter((cmd) => {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return;
  say(`installing ${missing.join(' and ')} with apt-get (kube-proxy needs them)`);
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
    execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch (err) {
    throw new Error(`could not install ${missing.join(', ')} with apt-get: ${(err as Error).message}; install them, then run make cluster again`);
  }
}

export function clusterNetworkExists(): boolean {
  return namespaces().includes(CLUSTER_NETNS);
}

export function createClusterNetwork(): void {
  const { hostIf, nodeIf, hostIp, nodeIp, prefix } = HOST_LINK;
  try {
    ip(['netns', 'add', CLUSTER_NETNS]);
    const inNs = (args: string[]): string => ip(['netns', 'exec', CLUSTER_NETNS, 'ip', ...args]);
    inNs(['link', 'set', 'lo', 'up']);
    inNs(['addr', 'add', `${NODE_IP}/32`, 'dev', 'lo']);
    execFileSync('ip', ['netns', 'exec', CLUSTER_NETNS, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'], { stdio: 'ignore' });
    // kube-proxy's ClusterIP rules must also see traffic that stays on the node (pod -> node process).
    execFileSync('ip', ['netns', 'exec', CLUSTER_NETNS, 'sysctl', '-qw', 'net.ipv4.conf.all.route_localnet=1'], { stdio: 'ignore' });
    ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nodeIf]);
    ip(['link', 'set', nodeIf, 'netns', CLUSTER_NETNS]);
    ip(['addr', 'add', `${hostIp}/${prefix}`, 'dev', hostIf]);
    ip(['link', 'set', hostIf, 'up']);
    inNs(['addr', 'add', `${nodeIp}/${prefix}`, 'dev', nodeIf]);
    inNs(['link', 'set', nodeIf, 'up']);
    ip(['route', 'add', `${NODE_IP}/32`, 'via', nodeIp]);
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? err).trim();
    removeClusterNetwork();
    throw new Error(`could not create the cluster network (${CLUSTER_NETNS}): ${stderr}`);
  }
}

/**
 * Processes whose executable is one the cluster runs (its Kubernetes/Knative binaries, a staged function image):
 * a container that outlived its pod's namespace name can no longer be found by namespace, but still by this.
 */
export function clusterProcesses(): number[] {
  const roots = [join(toolsCache(), 'k8s-'), `${imagesDir()}/`];
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let exe = '';
    try {
      exe = readlinkSync(`/proc/${entry}/exe`);
    } catch {
      continue;
    }
    if (roots.some((r) => exe.startsWith(r))) found.push(Number(entry));
  }
  return found;
}

/** Kills what still runs in our namespaces, then deletes them, the host's veth and the agent's /etc/netns files. */
export function removeClusterNetwork(): void {
  const ours = namespaces().filter((n) => n === CLUSTER_NETNS || n.startsWith(POD_NETNS_PREFIX));
  for (const pid of clusterProcesses()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const ns of ours) {
    for (const pid of pidsIn(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  for (const ns of ours) quiet(['netns', 'del', ns]);
  quiet(['route', 'del', `${NODE_IP}/32`]);
  quiet(['link', 'del', HOST_LINK.hostIf]);
  try {
    for (const entry of readdirSync('/etc/netns')) {
      if (entry === CLUSTER_NETNS || entry.startsWith(POD_NETNS_PREFIX)) rmSync(`/etc/netns/${entry}`, { recursive: true, force: true });
    }
  } catch {
    // no /etc/netns
  }
}

/** `command args` run inside the node's namespace. */
export function inNode(command: string, args: string[]): { command: string; args: string[] } {
  return { command: 'ip', args: ['netns', 'exec', CLUSTER_NETNS, command, ...args] };
}
