/**
 * The local stack: the function as it runs in a Knative pod (behind Knative's queue-proxy, with the chart's
 * environment) and its real peers: moto as Secrets Manager, Jaeger receiving OTLP, Prometheus scraping what the
 * chart's PodMonitor selects. Used by `make dev` (scripts/dev/main.ts) and by the end-to-end tests.
 */
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { loadChartModel, RELEASE, type ChartModel } from './chart.ts';
import { DEFAULT_PORTS, PORT_ENV, type Ports } from './ports.ts';
import { createPodNetwork, hostNetwork, type PodNetwork } from './netns.ts';
import { Proc, type Exit } from './proc.ts';
import { queueProxyEnv } from './queue-proxy.ts';
import { freePort, httpGet, portInUse, StackError, waitFor } from './wait.ts';
import { serverArgs } from '../../lib/snapshot.mjs';

export const REPO_ROOT = new URL('../../../', import.meta.url).pathname.replace(/\/$/, '');

/** queue-proxy's ports that no environment variable can move (pkg/networking/constants.go). */
export const QUEUE_PROXY_FIXED_PORTS = [8022, 9090] as const;

export { DEFAULT_PORTS, PORT_ENV, type Ports };

export const RESERVED_PORTS: number[] = (
  JSON.parse(readFileSync(join(REPO_ROOT, 'chart/files/contract.json'), 'utf8')) as { reservedPorts: number[] }
).reservedPorts;

export function portsFromEnv(env: NodeJS.ProcessEnv): Ports {
  const ports = { ...DEFAULT_PORTS };
  for (const key of Object.keys(PORT_ENV) as (keyof Ports)[]) {
    const raw = env[PORT_ENV[key]];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 65_535) throw new StackError(`${PORT_ENV[key]}=${raw} is not a port number`);
    ports[key] = n;
  }
  const seen = new Map<number, string>();
  for (const key of Object.keys(ports) as (keyof Ports)[]) {
    const p = ports[key];
    if (RESERVED_PORTS.includes(p)) throw new StackError(`${PORT_ENV[key]}=${p} is reserved by queue-proxy (${RESERVED_PORTS.join(', ')})`);
    const other = seen.get(p);
    if (other) throw new StackError(`${PORT_ENV[key]} and ${other} are both ${p}`);
    seen.set(p, PORT_ENV[key]);
  }
  return ports;
}

/** The function's own values (<FUNCTION>/values.yaml, default function/example): its settings, secret keys, probe path. */
export interface FunctionValues {
  file: string | undefined;
  env: Record<string, string>;
  secretKeys: string[];
  /** The path the guide's curl calls (the deploy's smoke test and make coldstart call it too); default `/`. */
  probePath: string;
}

export function functionValues(root: string, env: NodeJS.ProcessEnv = process.env): FunctionValues {
  const file = join(resolve(root, env.FUNCTION || 'function/example'), 'values.yaml');
  if (!existsSync(file)) return { file: undefined, env: {}, secretKeys: [], probePath: '/' };
  const doc = (parse(readFileSync(file, 'utf8')) ?? {}) as { function?: { env?: Record<string, unknown>; secretKeys?: string[]; probePath?: string } };
  const vars = Object.fromEntries(Object.entries(doc.function?.env ?? {}).map(([k, v]) => [k, String(v)]));
  return { file, env: vars, secretKeys: doc.function?.secretKeys ?? [], probePath: doc.function?.probePath || '/' };
}

/**
 * The values make dev seeds the function's secret document with: each key the values file declares, from the local
 * file DEV_SECRETS_FILE (default .dev/secrets.json, a JSON object; .dev/ is git-ignored) when it has the key, else a
 * random 32-byte hex value. Never written back, never printed.
 */
export function devSecrets(keys: string[], file: string): Record<string, string> {
  const local = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  return Object.fromEntries(keys.map((k) => [k, typeof local[k] === 'string' ? (local[k] as string) : randomBytes(32).toString('hex')]));
}

export interface Tools {
  queueProxy: string;
  jaeger: string;
  prometheus: string;
  moto: string;
  helm: string;
  node: string;
  /** The built function (DEV_FUNCTION_ENTRY overrides, e.g. to run another build output). */
  functionEntry: string;
}

export function toolPaths(root = REPO_ROOT, env: NodeJS.ProcessEnv = process.env): Tools {
  return {
    queueProxy: env.QUEUE_PROXY_BIN || join(root, 'bin/queue-proxy'),
    jaeger: env.JAEGER_BIN || join(root, 'bin/jaeger'),
    prometheus: env.PROMETHEUS_BIN || join(root, 'bin/prometheus'),
    moto: env.MOTO_SERVER_BIN || join(root, '.venv/bin/moto_server'),
    helm: env.HELM_BIN || join(root, 'bin/helm'),
    node: join(root, 'node_modules/.bin/node'),
    functionEntry: env.DEV_FUNCTION_ENTRY || join(root, 'dist/server.js'),
  };
}

export interface StackOptions {
  root?: string;
  /** Directory for logs, generated configs and Prometheus' data. */
  stateDir: string;
  /** Run the pod (queue-proxy + function) in its own network namespace with the chart's real ports. */
  isolate?: boolean;
  /** Host-network ports (ignored for the pod's own ports when isolated; peers then use free ports). */
  ports?: Ports;
  /** Extra chart values (`key=value`, as for helm --set), e.g. `containerConcurrency=1`. */
  chartSet?: string[];
  /** Prometheus scrape interval (the PodMonitor's is 30 s; locally shorter so queries answer quickly). */
  scrapeInterval?: string;
  /** config-observability tracing-sampling-rate for queue-proxy. */
  tracingSamplingRate?: number;
  /** Extra environment for the function (beyond what the chart sets). */
  functionEnv?: Record<string, string>;
  /** The key of the generated secret seeded in moto (and rotated by rotateSigningKey), in place of the keys of the function's values file (tests' fixtures). */
  secretKey?: string;
  /** The function's values file, settings and secret keys (default: functionValues(root)). */
  fn?: FunctionValues;
  /** Where local secret values are read from (default <stateDir>/secrets.json). */
  secretsFile?: string;
  /** Called with each output line of each process. */
  onLine?: (process: string, line: string) => void;
  /** Progress messages ("jaeger ready in 812 ms"). */
  onStep?: (message: string) => void;
  tools?: Tools;
}

export interface Endpoints {
  FUNCTION_URL: string;
  METRICS_URL: string;
  JAEGER_URL: string;
  PROMETHEUS_URL: string;
  SECRETS_ENDPOINT: string;
  /** Jaeger's OTLP/HTTP base URL (what OTEL_EXPORTER_OTLP_ENDPOINT points at). */
  OTLP_ENDPOINT: string;
  /** queue-proxy's request metrics. */
  QUEUE_PROXY_METRICS_URL: string;
  /** queue-proxy's admin server (:8022, e.g. /wait-for-drain). */
  QUEUE_PROXY_ADMIN_URL: string;
}

export const LOCAL_SECRET_ID = 'knative-fn/local/app';
export const AWS_REGION = 'us-east-1';
const DUMMY_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

const stepTimer = (): (() => string) => {
  const t = Date.now();
  return () => `${Date.now() - t} ms`;
};

export class Stack {
  readonly endpoints: Endpoints;
  readonly model: ChartModel;
  readonly secretId = LOCAL_SECRET_ID;
  /** Processes by name: moto, jaeger, prometheus, function, queue-proxy. */
  readonly procs = new Map<string, Proc>();
  readonly network: PodNetwork;
  readonly stateDir: string;
  #stopped: Promise<Record<string, Exit>> | undefined;
  #spawnFunction: (() => Proc) | undefined;
  /** Re-reads the function's values file before a restart: its settings and secret keys (see restartFunction). */
  #reloadValues: (() => Promise<string | undefined>) | undefined;
  /** True while restartFunction() replaces the function process (its exit is expected then). */
  restarting = false;

  private constructor(init: { endpoints: Endpoints; model: ChartModel; network: PodNetwork; stateDir: string }) {
    this.endpoints = init.endpoints;
    this.model = init.model;
    this.network = init.network;
    this.stateDir = init.stateDir;
  }

  proc(name: string): Proc {
    const p = this.procs.get(name);
    if (!p) throw new Error(`no process ${name}`);
    return p;
  }

  /** A Secrets Manager client for moto (seeding, rotation). */
  secretsClient(): SecretsManagerClient {
    return new SecretsManagerClient({ region: AWS_REGION, endpoint: this.endpoints.SECRETS_ENDPOINT, credentials: DUMMY_CREDENTIALS });
  }

  /** Puts a new version of the seeded secret key (rotation); returns the key. */
  async rotateSigningKey(key = randomBytes(32).toString('hex')): Promise<string> {
    await this.secretsClient().send(new PutSecretValueCommand({ SecretId: this.secretId, SecretString: JSON.stringify({ [this.secretKey]: key }) }));
    return key;
  }

  /** The signing key currently stored in moto. */
  signingKey = '';
  /** Its key name in the secret. */
  secretKey = 'SIGNING_KEY';

  static async start(options: StackOptions): Promise<Stack> {
    const root = options.root ?? REPO_ROOT;
    const tools = options.tools ?? toolPaths(root);
    const say = options.onStep ?? (() => {});
    const stateDir = options.stateDir;
    mkdirSync(stateDir, { recursive: true });
    for (const [name, path] of Object.entries(tools)) {
      if (!existsSync(path)) throw new StackError(`${name} not found at ${path}`, name === 'functionEntry' ? 'run make build' : 'run make tools');
    }

    const network = options.isolate ? createPodNetwork() : hostNetwork();
    const stack = await (async () => {
      try {
        return await Stack.#startIn(network, root, tools, stateDir, options, say);
      } catch (err) {
        network.remove();
        throw err;
      }
    })();
    return stack;
  }

  static async #startIn(
    network: PodNetwork,
    root: string,
    tools: Tools,
    stateDir: string,
    options: StackOptions,
    say: (m: string) => void,
  ): Promise<Stack> {
    const isolate = options.isolate ?? false;
    const host = network.hostIp;
    let ports: Ports;
    if (isolate) {
      // The pod keeps the chart's ports (set below from the rendered chart); the peers take free host ports.
      ports = {
        function: 8012,
        queueTls: 8112,
        queueMetrics: 9091,
        user: 0,
        metrics: 0,
        jaegerQuery: await freePort(host),
        jaegerOtlpHttp: await freePort(host),
        prometheus: await freePort(host),
        moto: await freePort(host),
      };
    } else {
      ports = options.ports ?? DEFAULT_PORTS;
      const busy: string[] = [];
      for (const p of QUEUE_PROXY_FIXED_PORTS) if (await portInUse(p)) busy.push(`${p} (queue-proxy's fixed admin/stats port)`);
      for (const key of Object.keys(ports) as (keyof Ports)[]) if (await portInUse(ports[key])) busy.push(`${ports[key]} (${PORT_ENV[key]})`);
      if (busy.length) {
        throw new StackError(
          `ports already in use: ${busy.join(', ')}`,
          'is another `make dev` running? Stop it, or choose other ports (e.g. make dev DEV_FUNCTION_PORT=8280); 8022 and 9090 cannot be moved',
        );
      }
    }

    const motoUrl = `http://${host}:${ports.moto}`;
    const otlpUrl = `http://${host}:${ports.jaegerOtlpHttp}`;
    const fnValues = options.fn ?? functionValues(root);
    // A test's fixture names its one key (secretKey); make dev seeds the keys the function's values file declares.
    const secretValues = devSecrets(options.secretKey ? [options.secretKey] : fnValues.secretKeys, options.secretsFile ?? join(stateDir, 'secrets.json'));

    // The chart, rendered with the local values: what it sets is what the function and queue-proxy get.
    const chartSet = [
      `function.secrets=${LOCAL_SECRET_ID}`,
      `function.awsRegion=${AWS_REGION}`,
      `telemetry.otlpEndpoint=${otlpUrl}`,
      // Every trace locally (as in dev): the chart's default ratio would drop most startup spans.
      'telemetry.sampler=parentbased_always_on',
      'telemetry.samplerArg=',
      ...(options.chartSet ?? []),
    ];
    let t = stepTimer();
    // The chart's defaults, then the function's own values file, then the local settings above.
    const model = loadChartModel(root, tools.helm, chartSet, fnValues.file ? [fnValues.file] : []);
    const rev = model.revision;
    const chartEnv = Object.fromEntries(rev.env.map((e) => [e.name, e.value ?? '']));
    if (isolate) {
      ports.user = rev.containerPort;
      ports.metrics = Number(chartEnv.METRICS_PORT);
    }
    if (rev.portName === 'h2c' && isolate) ports.function = 8013;
    say(`chart rendered (containerConcurrency ${rev.containerConcurrency}, timeoutSeconds ${rev.timeoutSeconds}) in ${t()}`);

    const pod = network.podIp;
    const endpoints: Endpoints = {
      FUNCTION_URL: `http://${pod}:${ports.function}`,
      METRICS_URL: `http://${pod}:${ports.metrics}/metrics`,
      JAEGER_URL: `http://${host}:${ports.jaegerQuery}`,
      PROMETHEUS_URL: `http://${host}:${ports.prometheus}`,
      SECRETS_ENDPOINT: motoUrl,
      OTLP_ENDPOINT: otlpUrl,
      QUEUE_PROXY_METRICS_URL: `http://${pod}:${ports.queueMetrics}/metrics`,
      QUEUE_PROXY_ADMIN_URL: `http://${pod}:8022`,
    };
    const stack = new Stack({ endpoints, model, network, stateDir });
    stack.secretKey = options.secretKey ?? fnValues.secretKeys[0] ?? stack.secretKey;
    stack.signingKey = secretValues[stack.secretKey] ?? '';
    const logDir = join(stateDir, 'logs');
    const baseEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8', TZ: 'UTC' };
    const spawnProc = (name: string, command: string, args: string[], env: NodeJS.ProcessEnv, inPod = false): Proc => {
      const wrapped = inPod ? network.wrap(command, args) : { command, args };
      const p = new Proc({
        name,
        command: wrapped.command,
        args: wrapped.args,
        env,
        cwd: root,
        logFile: join(logDir, `${name}.log`),
        onLine: options.onLine ? (line) => options.onLine?.(name, line) : undefined,
      });
      stack.procs.set(name, p);
      return p;
    };

    try {
      // Peers first, in parallel.
      t = stepTimer();
      const moto = spawnProc('moto', tools.moto, ['-H', host, '-p', String(ports.moto)], baseEnv);
      const jaegerConfig = join(stateDir, 'jaeger.yaml');
      writeFileSync(jaegerConfig, jaegerYaml(host, ports.jaegerOtlpHttp, ports.jaegerQuery));
      const jaeger = spawnProc('jaeger', tools.jaeger, ['--config', jaegerConfig], baseEnv);
      const promDir = join(stateDir, 'prometheus');
      mkdirSync(promDir, { recursive: true });
      const promConfig = join(stateDir, 'prometheus.yml');
      writeFileSync(promConfig, prometheusYaml(model, pod, ports, options.scrapeInterval ?? '5s'));
      const prometheus = spawnProc(
        'prometheus',
        tools.prometheus,
        [
          `--config.file=${promConfig}`,
          `--storage.tsdb.path=${join(promDir, 'data')}`,
          `--web.listen-address=${host}:${ports.prometheus}`,
          '--storage.tsdb.retention.time=1d',
          '--log.level=warn',
        ],
        baseEnv,
      );

      await waitFor('moto to answer', async () => (await httpGet(`${motoUrl}/moto-api/`)).status < 500, { timeoutMs: 30_000, proc: moto });
      const sm = stack.secretsClient();
      await sm.send(new CreateSecretCommand({ Name: LOCAL_SECRET_ID, SecretString: JSON.stringify(secretValues) }));
      say(`moto ready, secret ${LOCAL_SECRET_ID} seeded with ${Object.keys(secretValues).join(', ') || 'no keys'} (${t()})`);
      await waitFor('Jaeger query API', async () => (await httpGet(`${endpoints.JAEGER_URL}/api/services`)).status === 200, {
        timeoutMs: 30_000,
        proc: jaeger,
      });
      say(`jaeger ready (${t()})`);

      // The pod: both containers start together, as in Kubernetes.
      t = stepTimer();
      // The settings the function declares (its values' function.env), overridden from the shell when set there.
      const functionEnv = (chartEnv: Record<string, string>, fnValues: FunctionValues): NodeJS.ProcessEnv => ({
        ...baseEnv,
        ...chartEnv,
        ...Object.fromEntries(Object.keys(fnValues.env).flatMap((k) => (process.env[k] !== undefined ? [[k, process.env[k]!]] : []))),
        METRICS_PORT: String(ports.metrics),
        // Loopback only on the host network; inside its own network namespace the pod listens as in Kubernetes.
        HOST: isolate ? '0.0.0.0' : '127.0.0.1',
        // What Knative adds to the user container.
        PORT: String(ports.user),
        K_SERVICE: rev.serviceName,
        K_CONFIGURATION: rev.serviceName,
        K_REVISION: rev.revisionName,
        // What EKS Pod Identity and the AWS endpoint would provide in the cluster.
        AWS_ENDPOINT_URL_SECRETS_MANAGER: motoUrl,
        AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
        ...(options.functionEnv ?? {}),
      });
      let fnEnv = functionEnv(chartEnv, fnValues);
      // As the image starts it: from the start-up snapshot when this Node made it (serverArgs), else the plain entry.
      stack.#spawnFunction = () => spawnProc('function', tools.node, serverArgs(tools.functionEntry, tools.node), fnEnv, true);
      // make dev's values file (not a test's given values): an edit reaches the restarted function, new secret keys
      // are seeded (the keys already seeded keep their values).
      let seeded = secretValues;
      stack.#reloadValues = async () => {
        if (options.fn || options.secretKey) return undefined;
        const now = functionValues(root);
        const revision = loadChartModel(root, tools.helm, chartSet, now.file ? [now.file] : []).revision;
        fnEnv = functionEnv(Object.fromEntries(revision.env.map((e) => [e.name, e.value ?? ''])), now);
        const added = now.secretKeys.filter((k) => !(k in seeded));
        if (added.length === 0) return undefined;
        const fresh = devSecrets(added, options.secretsFile ?? join(stateDir, 'secrets.json'));
        seeded = { ...seeded, ...fresh };
        await stack.secretsClient().send(new PutSecretValueCommand({ SecretId: LOCAL_SECRET_ID, SecretString: JSON.stringify(seeded) }));
        return `secret ${LOCAL_SECRET_ID} seeded with ${added.join(', ')} too`;
      };
      const fn = stack.#spawnFunction();
      const podName = `${rev.revisionName}-deployment-local`;
      const qpEnv = {
        ...baseEnv,
        ...queueProxyEnv({
          revision: rev,
          ports: { serving: ports.function, tls: ports.queueTls, user: ports.user, requestMetrics: ports.queueMetrics },
          podName,
          podIp: pod,
          tracingEndpoint: `${otlpUrl}/v1/traces`,
          samplingRate: options.tracingSamplingRate ?? 1,
        }),
      };
      const qp = spawnProc('queue-proxy', tools.queueProxy, [], qpEnv, true);
      // The kubelet's readiness probe of queue-proxy, which answers from the function's readiness (aggressive probing).
      await waitFor(
        'the function to be ready behind queue-proxy',
        async () => {
          if (fn.exit) return false;
          const r = await httpGet(endpoints.FUNCTION_URL, { 'K-Network-Probe': 'queue', 'User-Agent': 'kube-probe/1.35' }, 12_000);
          return r.status === 200;
        },
        { timeoutMs: 60_000, intervalMs: 100, proc: fn.exit ? fn : qp },
      ).catch((err: unknown) => {
        if (fn.exit) {
          throw new StackError(`the function exited (code ${fn.exit.code}) during startup; last output:\n${fn.tail()}`, `full log: ${fn.logFile}`);
        }
        throw err;
      });
      say(`function ready behind queue-proxy (${t()})`);
      await waitFor('Prometheus to be ready', async () => (await httpGet(`${endpoints.PROMETHEUS_URL}/-/ready`)).status === 200, {
        timeoutMs: 30_000,
        proc: prometheus,
      });
      return stack;
    } catch (err) {
      await stack.stop({ drain: false, fast: true });
      throw err;
    }
  }

  /**
   * Replaces the function process with a new one running the current build (after a rebuild); queue-proxy and the
   * peers stay up. The function's values file is read again first: its settings as the chart renders them, and the
   * secret keys added since (seeded; onStep says so). Resolves with the milliseconds from SIGTERM to ready behind
   * queue-proxy.
   */
  async restartFunction(onStep: (message: string) => void = () => {}): Promise<number> {
    const started = Date.now();
    const seeded = await this.#reloadValues?.();
    if (seeded) onStep(seeded);
    this.restarting = true;
    try {
      await this.procs.get('function')?.stop('SIGTERM', 10_000);
    } finally {
      this.restarting = false;
    }
    const fn = this.#spawnFunction!();
    await waitFor(
      'the function to be ready again behind queue-proxy',
      async () => !fn.exit && (await httpGet(this.endpoints.FUNCTION_URL, { 'K-Network-Probe': 'queue', 'User-Agent': 'kube-probe/1.35' }, 5_000)).status === 200,
      { timeoutMs: 60_000, intervalMs: 50, proc: fn },
    );
    return Date.now() - started;
  }

  /**
   * Stops everything, in the pod's order: queue-proxy gets SIGTERM and drains (its quiet period is 30 s) while the
   * function's preStop hook (GET :8022/wait-for-drain) waits; then the function gets SIGTERM; then the peers, Jaeger
   * last so the function's final spans are in. With `drain: false`, the pod gets SIGTERM at once (no preStop wait).
   */
  stop(options: { drain?: boolean; graceMs?: number; fast?: boolean } = {}): Promise<Record<string, Exit>> {
    this.#stopped ??= this.#stop(options.drain ?? true, options.graceMs ?? 90_000, options.fast ?? false);
    return this.#stopped;
  }

  async #stop(drain: boolean, graceMs: number, fast: boolean): Promise<Record<string, Exit>> {
    const exits: Record<string, Exit> = {};
    const qp = this.procs.get('queue-proxy');
    const fn = this.procs.get('function');
    const deadline = Date.now() + graceMs;
    const left = (): number => Math.max(1_000, deadline - Date.now());
    if (qp && !qp.exit) {
      qp.signal('SIGTERM');
      // A second signal makes queue-proxy exit at once (exit 1), skipping its 30 s quiet period.
      if (fast) qp.signal('SIGINT');
      if (drain && fn && !fn.exit) {
        // The function container's preStop hook.
        await Promise.race([
          httpGet(`${this.endpoints.QUEUE_PROXY_ADMIN_URL}/wait-for-drain`, {}, left()).catch(() => undefined),
          qp.exited,
        ]);
      }
    }
    const pod = [fn && fn.stop('SIGTERM', left()), qp && qp.stop('SIGTERM', left())];
    const [fnExit, qpExit] = await Promise.all(pod);
    if (fnExit) exits.function = fnExit;
    if (qpExit) exits['queue-proxy'] = qpExit;
    for (const name of ['prometheus', 'moto', 'jaeger']) {
      const p = this.procs.get(name);
      if (p) exits[name] = await p.stop('SIGTERM', 10_000);
    }
    this.network.remove();
    return exits;
  }
}

/** Jaeger v2 (an OpenTelemetry Collector distribution): OTLP/HTTP in, memory storage, query API. */
export function jaegerYaml(host: string, otlpPort: number, queryPort: number): string {
  return `# Generated by scripts/dev: Jaeger with in-memory storage, OTLP/HTTP receiver and the query API.
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    traces:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    # Jaeger's own tracer would export to localhost:4317.
    enable_tracing: false
    http:
      endpoint: "${host}:${queryPort}"
    grpc:
      endpoint: "${host}:0"
receivers:
  otlp:
    protocols:
      http:
        endpoint: "${host}:${otlpPort}"
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

/**
 * Prometheus scraping what the chart's PodMonitor selects, with the labels the operator and the PodMonitor's
 * relabelings would give the targets (job, namespace, pod, container, endpoint, service, revision).
 */
export function prometheusYaml(model: ChartModel, podIp: string, ports: Ports, interval: string): string {
  const rev = model.revision;
  const pod = `${rev.revisionName}-deployment-local`;
  const jobs = model.scrape.map((ep, i) => {
    const isFunction = ep.port === 'user-port';
    const target = isFunction ? `${podIp}:${ports.metrics}` : `${podIp}:${ports.queueMetrics}`;
    return `  - job_name: podMonitor/${RELEASE.namespace}/${RELEASE.name}/${i}
    metrics_path: ${ep.path}
    scrape_interval: ${interval}
    scrape_timeout: ${interval === '1s' ? '900ms' : '1s'}
    static_configs:
      - targets: ["${target}"]
        labels:
          job: ${RELEASE.namespace}/${RELEASE.name}
          namespace: ${rev.namespace}
          pod: ${pod}
          container: ${isFunction ? 'function' : 'queue-proxy'}
          endpoint: ${ep.port}
          service: ${rev.serviceName}
          revision: ${rev.revisionName}`;
  });
  if (jobs.length === 0) throw new StackError('the chart rendered no PodMonitor endpoints (podMonitor.enabled=true was set)');
  return `# Generated by scripts/dev from the chart's PodMonitor.
global:
  scrape_interval: ${interval}
  evaluation_interval: ${interval}
scrape_configs:
${jobs.join('\n')}
`;
}
