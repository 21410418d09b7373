/**
 * What the chart deploys, read from the chart itself: `helm template` with the chart's default values, then the
 * Knative webhook's defaulting of the revision (Knative Serving v1.23: pkg/apis/serving/v1/revision_defaults.go).
 * The local stack derives queue-proxy's environment, the function's environment and Prometheus' scrape config from
 * this, so the chart stays the one home of those values.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { StackError } from './wait.ts';

export interface Probe {
  httpGet?: { path?: string; port?: number | string; host?: string; scheme?: string; httpHeaders?: unknown[] };
  tcpSocket?: { port?: number | string; host?: string };
  exec?: unknown;
  grpc?: { port: number; service?: string };
  initialDelaySeconds?: number;
  timeoutSeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

export interface EnvVar {
  name: string;
  value?: string;
}

/** The revision as the Knative webhook stores it (after defaulting), reduced to what the pod needs. */
export interface Revision {
  serviceName: string;
  namespace: string;
  /** `<service>-00001`, or `<service>-<revisionSuffix>` when the chart names it. */
  revisionName: string;
  containerPort: number;
  /** `h2c` makes queue-proxy serve on 8013 instead of 8012. */
  portName: string;
  containerConcurrency: number;
  timeoutSeconds: number;
  responseStartTimeoutSeconds: number | undefined;
  idleTimeoutSeconds: number | undefined;
  readinessProbe: Probe;
  env: EnvVar[];
}

export interface ScrapeEndpoint {
  /** `user-port` (the function, relabelled to METRICS_PORT) or `http-usermetric` (queue-proxy). */
  port: string;
  path: string;
  interval: string;
  /** The function's metrics port when the PodMonitor relabels the address to it. */
  addressPort?: number;
}

export interface ChartModel {
  revision: Revision;
  scrape: ScrapeEndpoint[];
}

/** Knative's config-defaults defaults (pkg/apis/config/defaults.go). */
export const KNATIVE_DEFAULTS = {
  revisionTimeoutSeconds: 300,
  revisionResponseStartTimeoutSeconds: 300,
  revisionIdleTimeoutSeconds: 0,
  containerConcurrency: 0,
} as const;

export const RELEASE = { name: 'knative-fn', namespace: 'default' } as const;

/** Values the chart requires that have no default (an image) plus the PodMonitor the local Prometheus mirrors. */
export const LOCAL_SET_VALUES = ['image.repository=local/knative-fn', 'image.tag=dev', 'podMonitor.enabled=true'];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

export function renderChart(root: string, helm: string, extraSet: string[] = [], valueFiles: string[] = []): Obj[] {
  if (!existsSync(helm)) throw new StackError(`helm not found at ${helm}`, 'run make tools');
  const args = ['template', RELEASE.name, join(root, 'chart'), '--namespace', RELEASE.namespace];
  for (const f of valueFiles) args.push('--values', f);
  for (const s of [...LOCAL_SET_VALUES, ...extraSet]) args.push('--set', s);
  let out: string;
  try {
    out = execFileSync(helm, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? String(err);
    throw new StackError(`helm template of chart/ failed:\n${stderr}`, 'fix the chart (make test runs its checks)');
  }
  return parseAllDocuments(out)
    .map((d) => d.toJSON() as unknown)
    .filter(isObj);
}

/** Applies the webhook's revision defaults to a readiness probe (applyUserContainerDefaultReadinessProbe etc.). */
export function defaultReadinessProbe(probe: Probe | undefined): Probe {
  const p: Probe = structuredClone(probe ?? {});
  if (!p.tcpSocket && !p.httpGet && !p.exec && !p.grpc) p.tcpSocket = {};
  if (!p.successThreshold) p.successThreshold = 1;
  if (p.periodSeconds) {
    if (!p.failureThreshold) p.failureThreshold = 3;
    if (!p.timeoutSeconds) p.timeoutSeconds = 1;
  }
  return p;
}

export function modelFromManifests(docs: Obj[]): ChartModel {
  const ksvc = docs.find((d) => d.kind === 'Service' && String(d.apiVersion).startsWith('serving.knative.dev/'));
  if (!ksvc) throw new StackError('the chart rendered no Knative Service (serving.knative.dev/v1 Service)');
  const meta = ksvc.metadata as Obj;
  const template = (ksvc.spec as Obj).template as Obj;
  const tmeta = (template.metadata ?? {}) as Obj;
  const spec = template.spec as Obj;
  const containers = spec.containers as Obj[];
  const container = containers.find((c) => Array.isArray(c.ports) && c.ports.length > 0) ?? containers[0];
  if (!container) throw new StackError('the Knative Service has no container');
  const port = ((container.ports as Obj[] | undefined) ?? [])[0] ?? {};
  const serviceName = String(meta.name);
  const timeoutSeconds = num(spec.timeoutSeconds) || KNATIVE_DEFAULTS.revisionTimeoutSeconds;
  const defaulted = (value: unknown, dflt: number): number | undefined => {
    const v = num(value);
    if (v !== undefined) return v;
    return dflt !== 0 && dflt < timeoutSeconds ? dflt : undefined;
  };
  const revision: Revision = {
    serviceName,
    namespace: String(meta.namespace ?? RELEASE.namespace),
    revisionName: typeof tmeta.name === 'string' ? tmeta.name : `${serviceName}-00001`,
    containerPort: num(port.containerPort) ?? 8080,
    portName: String(port.name ?? ''),
    containerConcurrency: num(spec.containerConcurrency) ?? KNATIVE_DEFAULTS.containerConcurrency,
    timeoutSeconds,
    responseStartTimeoutSeconds: defaulted(spec.responseStartTimeoutSeconds, KNATIVE_DEFAULTS.revisionResponseStartTimeoutSeconds),
    idleTimeoutSeconds: defaulted(spec.idleTimeoutSeconds, KNATIVE_DEFAULTS.revisionIdleTimeoutSeconds),
    readinessProbe: defaultReadinessProbe(container.readinessProbe as Probe | undefined),
    env: ((container.env as Obj[] | undefined) ?? []).map((e) => ({ name: String(e.name), value: e.value === undefined ? undefined : String(e.value) })),
  };

  const scrape: ScrapeEndpoint[] = [];
  const podMonitor = docs.find((d) => d.kind === 'PodMonitor');
  if (podMonitor) {
    for (const ep of ((podMonitor.spec as Obj).podMetricsEndpoints as Obj[]) ?? []) {
      const relabel = ((ep.relabelings as Obj[] | undefined) ?? []).find((r) => r.targetLabel === '__address__');
      const replacement = typeof relabel?.replacement === 'string' ? relabel.replacement : '';
      const m = /:(\d+)$/.exec(replacement);
      scrape.push({
        port: String(ep.port),
        path: String(ep.path ?? '/metrics'),
        interval: String(ep.interval ?? '30s'),
        addressPort: m ? Number(m[1]) : undefined,
      });
    }
  }
  return { revision, scrape };
}

export function loadChartModel(root: string, helm: string, extraSet: string[] = [], valueFiles: string[] = []): ChartModel {
  return modelFromManifests(renderChart(root, helm, extraSet, valueFiles));
}
