// The cluster side: kubeconfig, the Knative Service's state, its pods.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { run, runRaw } from './exec.ts';
import { stateDir, type Context, type EnvName } from './config.ts';
import type { PlatformOutputs } from './platform.ts';

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface KService {
  metadata: { name: string; namespace: string; generation?: number };
  spec?: {
    template?: { spec?: { containers?: Array<{ name?: string; image?: string }> } };
    traffic?: TrafficTarget[];
  };
  status?: {
    url?: string;
    observedGeneration?: number;
    latestReadyRevisionName?: string;
    latestCreatedRevisionName?: string;
    conditions?: Condition[];
    traffic?: TrafficTarget[];
  };
}

export interface TrafficTarget {
  revisionName?: string;
  latestRevision?: boolean;
  percent?: number;
  tag?: string;
  url?: string;
}

export interface Pod {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { phase?: string; containerStatuses?: Array<{ name: string; ready: boolean; restartCount?: number }> };
}

/** kubectl/helm target one cluster through a kubeconfig file of our own: the user's ~/.kube/config is untouched. */
export class Kube {
  private readonly ctx: Context;
  readonly kubeconfig: string;
  readonly namespace: string;

  constructor(ctx: Context, kubeconfig: string, namespace: string) {
    this.ctx = ctx;
    this.kubeconfig = kubeconfig;
    this.namespace = namespace;
  }

  static async connect(ctx: Context, env: EnvName, out: PlatformOutputs): Promise<Kube> {
    if (out.local) return new Kube(ctx, out.local.kubeconfig, out.namespace);
    const dir = stateDir(ctx, env);
    mkdirSync(dir, { recursive: true });
    const kubeconfig = join(dir, 'kubeconfig');
    await run(
      'aws',
      ['eks', 'update-kubeconfig', '--region', out.region, '--name', out.clusterName, '--kubeconfig', kubeconfig, '--alias', `knative-fn-${env}`],
      { cwd: ctx.root, env: ctx.env },
    );
    return new Kube(ctx, kubeconfig, out.namespace);
  }

  kubectlArgs(args: string[]): string[] {
    return ['--kubeconfig', this.kubeconfig, '--namespace', this.namespace, ...args];
  }

  kubectl(args: string[], timeoutMs = 60_000): Promise<string> {
    return run('kubectl', this.kubectlArgs(args), { cwd: this.ctx.root, env: this.ctx.env, timeoutMs });
  }

  async getService(name: string): Promise<KService | undefined> {
    const r = await runRaw('kubectl', this.kubectlArgs(['get', 'ksvc', name, '-o', 'json']), { cwd: this.ctx.root, env: this.ctx.env, timeoutMs: 60_000 });
    if (r.code !== 0) {
      if (/NotFound|not found/.test(r.stderr)) return undefined;
      throw new Error(`kubectl get ksvc ${name} failed: ${r.stderr.trim()}`);
    }
    return JSON.parse(r.stdout) as KService;
  }

  /**
   * Waits until the service is Ready *for the spec just applied*: Ready alone can still describe the previous
   * generation for a moment after `helm upgrade`, so the controller must also have observed the new generation and
   * made its latest revision the ready one. On timeout, names the conditions that are not True.
   */
  async waitReady(name: string, timeoutSeconds: number, pollMs = 2000): Promise<KService> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    const r = await runRaw(
      'kubectl',
      this.kubectlArgs(['wait', `ksvc/${name}`, '--for=condition=Ready', `--timeout=${timeoutSeconds}s`]),
      { cwd: this.ctx.root, env: this.ctx.env, timeoutMs: (timeoutSeconds + 30) * 1000 },
    );
    for (;;) {
      const svc = await this.getService(name);
      if (r.code === 0 && svc && isCurrent(svc)) return svc;
      if (r.code !== 0 || !svc || Date.now() >= deadline) {
        const why = svc ? failingConditions(svc) : [`ksvc/${name} does not exist`];
        if (svc && isReady(svc) && !isCurrent(svc)) why.push(`the latest revision ${svc.status?.latestCreatedRevisionName ?? '?'} is not ready yet`);
        throw new Error(`not Ready after ${timeoutSeconds}s: ${why.join('; ') || r.stderr.trim()}`);
      }
      await new Promise((res) => setTimeout(res, pollMs));
    }
  }

  async pods(selector: string): Promise<Pod[]> {
    const out = await this.kubectl(['get', 'pods', '-l', selector, '-o', 'json']);
    return (JSON.parse(out) as { items: Pod[] }).items;
  }
}

export function isReady(svc: KService): boolean {
  return (svc.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Ready, for the current generation, with the latest created revision being the ready one. */
export function isCurrent(svc: KService): boolean {
  const generation = svc.metadata.generation;
  const observed = svc.status?.observedGeneration;
  const caughtUp = generation === undefined || observed === undefined || observed >= generation;
  return caughtUp && isReady(svc) && svc.status?.latestReadyRevisionName === svc.status?.latestCreatedRevisionName;
}

export function failingConditions(svc: KService): string[] {
  return (svc.status?.conditions ?? [])
    .filter((c) => c.status !== 'True')
    .map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`);
}

/** The image of the function container: `repo@sha256:...` when deployed by digest. */
export function serviceImage(svc: KService): string | undefined {
  return svc.spec?.template?.spec?.containers?.[0]?.image;
}

export function digestOf(image: string | undefined): string | undefined {
  const m = /@(sha256:[0-9a-f]{64})$/.exec(image ?? '');
  return m?.[1];
}

export function repositoryOf(image: string): string {
  return image.split('@')[0] ?? image;
}
