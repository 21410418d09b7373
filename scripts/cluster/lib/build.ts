/**
 * The cluster's binaries. Kubernetes, etcd and Knative Serving come from one Go module (scripts/cluster/k8s) and are
 * built once per go.sum into the tools cache; the project's own node agent and ingress are built on every bring-up
 * (Go's build cache makes that a few seconds when nothing changed).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, toolsCache, type Paths } from './layout.ts';

export const K8S_MODULE = join(ROOT, 'scripts', 'cluster', 'k8s');

/** The commands the k8s module builds, by output name. */
const K8S_COMMANDS: Record<string, string> = {
  etcd: './cmd/etcd',
  'kube-apiserver': 'k8s.io/kubernetes/cmd/kube-apiserver',
  'kube-controller-manager': 'k8s.io/kubernetes/cmd/kube-controller-manager',
  'kube-scheduler': 'k8s.io/kubernetes/cmd/kube-scheduler',
  'kube-proxy': 'k8s.io/kubernetes/cmd/kube-proxy',
  kubectl: 'k8s.io/kubernetes/cmd/kubectl',
  controller: 'knative.dev/serving/cmd/controller',
  webhook: 'knative.dev/serving/cmd/webhook',
  autoscaler: 'knative.dev/serving/cmd/autoscaler',
  activator: 'knative.dev/serving/cmd/activator',
  queue: 'knative.dev/serving/cmd/queue',
};

export interface Binaries {
  /** Directory holding the k8s/etcd/Knative binaries (names as in K8S_COMMANDS). */
  k8sDir: string;
  agent: string;
  ingress: string;
  kubernetesVersion: string;
  servingVersion: string;
}

/** A module's version as the k8s module's go.mod requires it. */
export function requiredVersion(module: string, gomod = readFileSync(join(K8S_MODULE, 'go.mod'), 'utf8')): string {
  const m = new RegExp(`^\\s*(?:require\\s+)?${module.replace(/[.]/g, '\\.')}\\s+(v\\S+)`, 'm').exec(gomod);
  if (!m) throw new Error(`scripts/cluster/k8s/go.mod does not require ${module}`);
  return m[1]!;
}

const goEnv = (): NodeJS.ProcessEnv => ({ ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-buildvcs=false' });

function go(args: string[], cwd: string, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('nice', ['-n', '10', 'go', ...args], { cwd, env: goEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const take = (chunk: Buffer): void => {
      const text = String(chunk);
      tail = (tail + text).slice(-4000);
      for (const line of text.split('\n')) if (line.trim()) onLine(line);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', (err) => reject(new Error(`go: ${err.message} (is Go on PATH?)`)));
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`go ${args.join(' ')} failed (exit ${code}) in ${cwd}:\n${tail}`))));
  });
}

export async function ensureBinaries(p: Paths, say: (line: string) => void): Promise<Binaries> {
  const gomod = readFileSync(join(K8S_MODULE, 'go.mod'), 'utf8');
  const kubernetesVersion = requiredVersion('k8s.io/kubernetes', gomod);
  const servingVersion = requiredVersion('knative.dev/serving', gomod);
  const key = createHash('sha256').update(gomod).update(readFileSync(join(K8S_MODULE, 'go.sum'))).digest('hex').slice(0, 12);
  const k8sDir = join(toolsCache(), `k8s-${kubernetesVersion}-serving-${servingVersion}-${key}`);
  if (!Object.keys(K8S_COMMANDS).every((name) => existsSync(join(k8sDir, name)))) {
    const started = Date.now();
    say(`building Kubernetes ${kubernetesVersion}, etcd and Knative Serving ${servingVersion} from the Go module proxy (once per version: about 5 minutes cold, 2 GB of memory)`);
    const minor = kubernetesVersion.split('.')[1];
    // Without the version stamp kubectl panics at init and Knative refuses the apiserver's version.
    const ldflags = [
      '-s -w',
      `-X k8s.io/component-base/version.gitVersion=${kubernetesVersion}`,
      '-X k8s.io/component-base/version.gitMajor=1',
      `-X k8s.io/component-base/version.gitMinor=${minor}`,
      '-X k8s.io/component-base/version.gitTreeState=clean',
    ].join(' ');
    rmSync(`${k8sDir}.tmp`, { recursive: true, force: true });
    mkdirSync(`${k8sDir}.tmp`, { recursive: true });
    let lines = 0;
    await go(['build', '-trimpath', '-ldflags', ldflags, '-o', `${k8sDir}.tmp/`, ...Object.values(K8S_COMMANDS)], K8S_MODULE, (line) => {
      lines += 1;
      if (lines <= 3 || /error|cannot|undefined/.test(line)) say(`  go: ${line}`);
    });
    rmSync(k8sDir, { recursive: true, force: true });
    renameSync(`${k8sDir}.tmp`, k8sDir);
    say(`built the cluster binaries in ${((Date.now() - started) / 1000).toFixed(0)} s (${k8sDir})`);
  }
  // kubectl of the cluster's own version for the deploy flow, make status/logs and the tests (./bin is on make's PATH).
  const kubectl = join(ROOT, 'bin', 'kubectl');
  if (!existsSync(kubectl)) {
    mkdirSync(join(ROOT, 'bin'), { recursive: true });
    symlinkSync(join(k8sDir, 'kubectl'), kubectl);
  }
  mkdirSync(p.bin, { recursive: true });
  const own = async (name: string, dir: string): Promise<string> => {
    const out = join(p.bin, name);
    const started = Date.now();
    await go(['build', '-trimpath', '-ldflags', '-s -w', '-o', out, '.'], join(ROOT, 'scripts', 'cluster', dir), (line) => say(`  go (${name}): ${line}`));
    say(`${name} built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return out;
  };
  const agent = await own('kfn-agent', 'agent');
  const ingress = await own('kfn-ingress', 'ingress');
  return { k8sDir, agent, ingress, kubernetesVersion, servingVersion };
}
