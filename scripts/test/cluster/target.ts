/**
 * The cluster the end-to-end suite runs against: any kubeconfig (a kind cluster, EKS), or, when none is given, the
 * local Kubernetes + Knative that `make cluster` runs, started here and stopped at the end.
 *
 * Environment (all optional; set them to point the suite at another cluster):
 *   CLUSTER_KUBECONFIG    kubeconfig of a cluster with Knative Serving and the function deployed by the deploy flow
 *   CLUSTER_INGRESS_URL   base URL that reaches Knative's external ingress (the Host header selects the service)
 *   CLUSTER_INTERNAL_URL  base URL of the cluster-local ingress listener, when reachable from here
 *   CLUSTER_JAEGER_URL    Jaeger's query API, for the trace assertions
 *   CLUSTER_IMAGE         image the function runs (repository:tag), for the suite's own helm upgrades
 */
import { execFileSync, spawn } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { hostPorts, paths, ROOT } from '../../cluster/lib/layout.ts';

export interface Target {
  kubeconfig: string;
  ingressUrl: string;
  internalUrl: string | undefined;
  jaegerUrl: string | undefined;
  namespace: string;
  service: string;
  /** True when the suite started the local cluster itself (and stops it at the end). */
  owned: boolean;
}

export const NAMESPACE = 'functions';
export const SERVICE = 'knative-fn';

const node = process.execPath;

/** Runs a command, streaming its output into the test log; rejects with the tail when it fails. */
export function sh(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 15 * 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const take = (d: Buffer): void => {
      out += String(d);
      process.stderr.write(d);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${out.slice(-3000)}`));
    });
  });
}

export async function acquire(): Promise<Target> {
  const given = process.env.CLUSTER_KUBECONFIG;
  if (given) {
    if (!process.env.CLUSTER_INGRESS_URL) throw new Error('CLUSTER_KUBECONFIG is set: set CLUSTER_INGRESS_URL too (where the ingress answers)');
    return {
      kubeconfig: given,
      ingressUrl: process.env.CLUSTER_INGRESS_URL,
      internalUrl: process.env.CLUSTER_INTERNAL_URL,
      jaegerUrl: process.env.CLUSTER_JAEGER_URL,
      namespace: NAMESPACE,
      service: SERVICE,
      owned: false,
    };
  }
  const port = hostPorts();
  await sh(node, [join(ROOT, 'scripts', 'cluster', 'main.ts'), 'up']);
  try {
    await sh(node, [join(ROOT, 'scripts', 'deploy', 'cli.ts'), 'deploy-local']);
  } catch (err) {
    // No teardown is registered yet: stop what was started here before failing.
    await sh(node, [join(ROOT, 'scripts', 'cluster', 'main.ts'), 'down']).catch(() => {});
    throw err;
  }
  return {
    kubeconfig: paths().kubeconfig,
    ingressUrl: `http://127.0.0.1:${port.ingress}`,
    internalUrl: `http://127.0.0.1:${port.ingressInternal}`,
    jaegerUrl: `http://127.0.0.1:${port.jaegerQuery}`,
    namespace: NAMESPACE,
    service: SERVICE,
    owned: true,
  };
}

export async function release(t: Target): Promise<void> {
  if (t.owned) await sh(node, [join(ROOT, 'scripts', 'cluster', 'main.ts'), 'down']);
}

export function kubectlBin(): string {
  return process.env.KUBECTL || join(ROOT, 'bin', 'kubectl');
}

export function kubectl(t: Target, args: string[], input?: string): string {
  try {
    return execFileSync(kubectlBin(), ['--kubeconfig', t.kubeconfig, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 120_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`kubectl ${args.join(' ')}: ${(e.stderr || e.message).trim()}`);
  }
}

/** kubectl, resolving with stdout, stderr and the exit code instead of throwing. */
export function kubectlRaw(t: Target, args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(kubectlBin(), ['--kubeconfig', t.kubeconfig, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 120_000 });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export function json<T>(t: Target, args: string[]): T {
  return JSON.parse(kubectl(t, [...args, '-o', 'json'])) as T;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** GET through the ingress at `base`, for the Knative host `host` (the Host header selects the route). */
export function call(base: string, host: string, path = '/', timeoutMs = 60_000, keepAlive = false): Promise<Reply> {
  const u = new URL(path, base);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(
      { host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: 'GET', headers: { host }, agent: keepAlive ? agent : false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: performance.now() - t0 }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${host} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export function hostOf(url: string | undefined): string {
  if (!url) throw new Error('the Knative Service has no URL yet');
  return new URL(url).hostname;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns a value (not undefined); throws naming `what` after `timeoutMs`. */
export async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    await sleep(intervalMs);
  }
}
