/**
 * The local cluster's supervisor: brings up etcd, the Kubernetes control plane, kube-proxy, Jaeger, the node agent
 * and the ingress inside the node's network namespace, installs Knative Serving with the platform's configuration,
 * then watches them; stop() takes everything down in order (the node agent first, which stops its pods).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Proc } from '../../dev/lib/proc.ts';
import { jaegerYaml } from '../../dev/lib/stack.ts';
import { waitFor } from '../../dev/lib/wait.ts';
import { ensureBinaries, type Binaries } from './build.ts';
import { knativeRelease, platformKnativeServing, toYaml } from './knative.ts';
import {
  CLUSTER_CIDR, CLUSTER_DOMAIN, CLUSTER_NETNS, HOST_PORTS, imagesDir, INGRESS_CLASS, NODE_IP, NODE_NAME, POD_CIDR, PORTS, ROOT, SERVICE_CIDR,
  type Paths,
} from './layout.ts';
import { createClusterNetwork, inNode, removeClusterNetwork } from './network.ts';
import { ensurePki, writeHostKubeconfig, type Pki } from './pki.ts';

export interface ClusterOptions {
  paths: Paths;
  /** Host loopback ports forwarded to the node (apiserver, ingress listeners, Jaeger's query API). */
  hostPorts: { apiserver: number; ingress: number; ingressInternal: number; jaegerQuery: number };
  /** Debug logging of the node agent and the ingress. */
  verbose?: boolean;
  /** helm binary (renders the platform's KnativeServing). */
  helm: string;
  /** Values for platform/charts/knative-serving (default scripts/cluster/knative-values.yaml). */
  knativeValues: string;
  say: (line: string) => void;
}

/** Order of teardown: the node agent first (it stops the pods), the control plane last. */
const STOP_ORDER = ['kfn-agent', 'kfn-ingress', 'jaeger', 'kube-proxy', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'];

export class Cluster {
  readonly procs = new Map<string, Proc>();
  readonly opts: ClusterOptions;
  #forwarders: net.Server[] = [];
  #stopping = false;
  bins: Binaries | undefined;
  pki: Pki | undefined;

  constructor(opts: ClusterOptions) {
    this.opts = opts;
  }

  get kubectlBin(): string {
    if (!this.bins) throw new Error('binaries not built yet');
    return join(this.bins.k8sDir, 'kubectl');
  }

  #spawn(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
    const wrapped = inNode(command, args);
    const proc = new Proc({
      name,
      command: wrapped.command,
      args: wrapped.args,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      cwd: ROOT,
      logFile: join(this.opts.paths.logs, `${name}.log`),
    });
    this.procs.set(name, proc);
    void proc.exited.then((exit) => {
      if (!this.#stopping) this.opts.say(`!! ${name} exited (${exit.signal ?? `code ${exit.code}`}); its log: ${proc.logFile}`);
    });
    return proc;
  }

  /** kubectl on the host, through the apiserver's loopback forward, which this process serves: never synchronous. */
  kubectl(args: string[], input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(this.kubectlBin, ['--kubeconfig', this.opts.paths.kubeconfig, ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`kubectl ${args.slice(0, 3).join(' ')}: ${(stderr || err.message).trim()}`));
        else resolve(stdout);
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  }

  async apply(yaml: string, extra: string[] = []): Promise<void> {
    await this.kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-', ...extra], yaml);
  }

  async start(): Promise<void> {
    const { paths: p, say } = this.opts;
    const t0 = Date.now();
    const since = (t = t0): string => `${((Date.now() - t) / 1000).toFixed(1)} s`;
    this.bins = await ensureBinaries(p, say);
    const bin = (name: string): string => join(this.bins!.k8sDir, name);
    rmSync(p.etcdData, { recursive: true, force: true });
    rmSync(p.agentState, { recursive: true, force: true });
    mkdirSync(p.logs, { recursive: true });
    this.pki = ensurePki(p);
    const k = this.pki;
    removeClusterNetwork();
    createClusterNetwork();
    const hp = this.opts.hostPorts;
    for (const [port, target] of [[hp.apiserver, PORTS.apiserver], [hp.ingress, PORTS.ingressExternal], [hp.ingressInternal, PORTS.ingressInternal], [hp.jaegerQuery, PORTS.jaegerQuery]] as const) {
      this.#forwarders.push(await forward(port, NODE_IP, target));
    }
    writeHostKubeconfig(p, k);
    say(`network namespace ${CLUSTER_NETNS} up, node address ${NODE_IP}; forwarded to 127.0.0.1: apiserver :${hp.apiserver}, ingress :${hp.ingress} (cluster-local :${hp.ingressInternal}), jaeger :${hp.jaegerQuery}`);

    const tPlane = Date.now();
    const etcd = this.#spawn('etcd', bin('etcd'), [
      '--name', 'local', '--data-dir', p.etcdData,
      '--listen-client-urls', `http://127.0.0.1:${PORTS.etcd}`, '--advertise-client-urls', `http://127.0.0.1:${PORTS.etcd}`,
      '--listen-peer-urls', `http://127.0.0.1:${PORTS.etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${PORTS.etcdPeer}`,
      '--initial-cluster', `local=http://127.0.0.1:${PORTS.etcdPeer}`, '--unsafe-no-fsync', '--log-level', 'warn',
    ]);
    const apiserver = this.#spawn('kube-apiserver', bin('kube-apiserver'), [
      `--etcd-servers=http://127.0.0.1:${PORTS.etcd}`, '--bind-address=0.0.0.0', `--advertise-address=${NODE_IP}`,
      `--secure-port=${PORTS.apiserver}`, `--tls-cert-file=${k.apiserverCert}`, `--tls-private-key-file=${k.apiserverKey}`,
      `--client-ca-file=${k.ca}`, `--service-account-key-file=${k.saPub}`, `--service-account-signing-key-file=${k.saKey}`,
      `--service-account-issuer=https://kubernetes.default.svc.${CLUSTER_DOMAIN}`, `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--authorization-mode=Node,RBAC', '--allow-privileged=true', '--enable-aggregator-routing=true', '--profiling=false',
      `--kubelet-client-certificate=${k.kubeletClientCert}`, `--kubelet-client-key=${k.kubeletClientKey}`,
      `--kubelet-certificate-authority=${k.ca}`, '--kubelet-preferred-address-types=InternalIP', '--v=1',
    ]);
    await waitFor('the apiserver to be ready (/readyz)', async () => {
      try {
        return (await this.kubectl(['get', '--raw', '/readyz'])).trim() === 'ok';
      } catch {
        return false;
      }
    }, { timeoutMs: 60_000, intervalMs: 200, proc: apiserver });
    if (etcd.exit) throw new Error(`etcd exited; its log: ${etcd.logFile}`);
    say(`apiserver ready in ${since(tPlane)}`);

    this.#spawn('kube-controller-manager', bin('kube-controller-manager'), [
      `--kubeconfig=${p.nodeKubeconfig}`, `--service-account-private-key-file=${k.saKey}`, `--root-ca-file=${k.ca}`,
      `--cluster-signing-cert-file=${k.ca}`, `--cluster-signing-key-file=${k.caKey}`, '--use-service-account-credentials=true',
      '--leader-elect=false', '--controllers=*', '--allocate-node-cidrs=false', `--cluster-cidr=${CLUSTER_CIDR}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`, '--bind-address=127.0.0.1', '--secure-port=10257', '--v=1',
    ]);
    this.#spawn('kube-scheduler', bin('kube-scheduler'), [
      `--kubeconfig=${p.nodeKubeconfig}`, '--leader-elect=false', '--bind-address=127.0.0.1', '--secure-port=10259',
    ]);
    this.#spawn('kube-proxy', bin('kube-proxy'), [
      `--kubeconfig=${p.nodeKubeconfig}`, '--proxy-mode=iptables', `--hostname-override=${NODE_NAME}`, `--cluster-cidr=${CLUSTER_CIDR}`,
      '--conntrack-max-per-core=0', '--conntrack-tcp-timeout-established=0', '--conntrack-tcp-timeout-close-wait=0',
      '--metrics-bind-address=127.0.0.1:10249', '--healthz-bind-address=127.0.0.1:10256',
    ]);
    const jaegerConfig = join(p.state, 'jaeger.yaml');
    writeFileSync(jaegerConfig, jaegerYaml(NODE_IP, PORTS.otlpHttp, PORTS.jaegerQuery));
    this.#spawn('jaeger', join(ROOT, 'bin', 'jaeger'), ['--config', jaegerConfig]);

    // Knative's namespaces, CRDs, RBAC and configuration first: the agent and the ingress watch them.
    const tKnative = Date.now();
    const spec = platformKnativeServing(this.opts.helm, this.opts.knativeValues);
    const release = knativeRelease(spec);
    await this.apply(toYaml(release.namespace));
    await this.apply(toYaml(release.crds));
    await this.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
    await this.apply(toYaml(release.rbac));
    // Before the webhooks: config-map validation fails closed until the webhook pod serves.
    await this.apply(toYaml(release.config));
    await this.apply(nodeServices());
    say(`Knative's CRDs and configuration applied in ${since(tKnative)} (ingress class ${spec.config?.network?.['ingress-class'] ?? '(not set: Knative falls back to Istio\'s)'})`);

    const images = join(p.state, 'images.json');
    writeFileSync(images, imagesFile(this.bins));
    this.#spawn('kfn-agent', this.bins.agent, [
      `--kubeconfig=${p.nodeKubeconfig}`, `--node-name=${NODE_NAME}`, `--node-ip=${NODE_IP}`, `--pod-cidr=${POD_CIDR}`,
      `--images=${images}`, `--state-dir=${p.agentState}`, `--cluster-domain=${CLUSTER_DOMAIN}`,
      `--kubelet-port=${PORTS.kubelet}`, `--tls-cert=${k.agentCert}`, `--tls-key=${k.agentKey}`, `--client-ca-file=${k.ca}`,
      ...(this.opts.verbose ? ['-v'] : []),
    ]);
    this.#spawn('kfn-ingress', this.bins.ingress, [
      `--kubeconfig=${p.nodeKubeconfig}`, `--ingress-class=${INGRESS_CLASS}`,
      `--external-addr=:${PORTS.ingressExternal}`, `--internal-addr=:${PORTS.ingressInternal}`,
      ...(this.opts.verbose ? ['-v'] : []),
    ]);
    await waitFor('the node to be Ready', async () => /True/.test(await this.kubectl(['get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])), {
      timeoutMs: 60_000, intervalMs: 300, proc: this.procs.get('kfn-agent'),
    });
    await this.apply(toYaml(release.webhooks));
    await this.apply(toYaml(release.workloads));
    const tDeploy = Date.now();
    await waitFor('Knative Serving to be available', async () => {
      const out = await this.kubectl(['-n', 'knative-serving', 'get', 'deploy', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.availableReplicas}{"\\n"}{end}']);
      const rows = out.trim().split('\n').filter(Boolean);
      return rows.length >= 4 && rows.every((r) => Number(r.split('=')[1] || 0) >= 1);
    }, { timeoutMs: 240_000, intervalMs: 500, proc: this.procs.get('kfn-agent') });
    say(`Knative Serving available in ${since(tDeploy)} (controller, webhook, autoscaler, activator as pods)`);

    say(`cluster up in ${since()}`);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    rmSync(this.opts.paths.kubeconfig, { force: true });
    for (const name of STOP_ORDER) {
      const proc = this.procs.get(name);
      // The agent stops every pod (preStop, SIGTERM, grace capped) before it exits.
      if (proc) await proc.stop('SIGTERM', name === 'kfn-agent' ? 90_000 : 15_000);
    }
    for (const f of this.#forwarders) f.close();
    removeClusterNetwork();
  }
}

/**
 * Services in front of node-level processes, as on EKS: Kourier's two Services (the ingress's external and
 * cluster-local listeners) and the platform's OpenTelemetry Collector (Jaeger's OTLP receiver here). Their
 * endpoints are the node address, in EndpointSlices the bring-up owns.
 */
export function nodeServices(): string {
  const svc = (ns: string, name: string, port: number, target: number): string => `---
apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}, labels: {app.kubernetes.io/part-of: knative-fn-local-cluster}}
spec:
  ports: [{name: http, port: ${port}, targetPort: ${target}, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-node
  namespace: ${ns}
  labels: {kubernetes.io/service-name: ${name}, endpointslice.kubernetes.io/managed-by: knative-fn-local-cluster}
addressType: IPv4
ports: [{name: http, port: ${target}, protocol: TCP}]
endpoints: [{addresses: ["${NODE_IP}"], conditions: {ready: true}, nodeName: ${NODE_NAME}}]
`;
  return [
    svc('kourier-system', 'kourier', 80, PORTS.ingressExternal),
    svc('kourier-system', 'kourier-internal', 80, PORTS.ingressInternal),
    svc('observability', 'otel-collector', PORTS.otlpHttp, PORTS.otlpHttp),
  ].join('');
}

/** scripts/cluster/images.json with its placeholders filled in, and the Dockerfile's ENV for the function. */
export function imagesFile(bins: Binaries): string {
  const template = JSON.parse(readFileSync(join(ROOT, 'scripts', 'cluster', 'images.json'), 'utf8')) as {
    images: Array<{ match: string; command: string[]; workingDir?: string; dockerfile?: string; env?: Record<string, string> }>;
  };
  const node = join(ROOT, 'node_modules', '.bin', 'node');
  const fill = (s: string): string =>
    s.replaceAll('${K8S_BIN}', bins.k8sDir).replaceAll('${ROOT}', ROOT).replaceAll('${NODE}', node).replaceAll('${IMAGES}', imagesDir());
  const images = template.images.map(({ dockerfile, ...image }) => ({
    ...image,
    command: image.command.map(fill),
    ...(image.workingDir ? { workingDir: fill(image.workingDir) } : {}),
    env: { ...(dockerfile ? dockerfileEnv(join(ROOT, dockerfile)) : {}), ...(image.env ?? {}) },
  }));
  return `${JSON.stringify({ images }, null, 2)}\n`;
}

/** `ENV KEY=value` lines of the Dockerfile's last stage (the image's environment). */
export function dockerfileEnv(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  const stages = readFileSync(file, 'utf8').split(/^FROM /m);
  const last = stages[stages.length - 1] ?? '';
  const env: Record<string, string> = {};
  for (const m of last.matchAll(/^ENV\s+(.+)$/gm)) {
    for (const pair of m[1]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) env[pair[1]!] = pair[2]!.replace(/^"|"$/g, '');
  }
  return env;
}

/** A TCP forwarder from the host's loopback to an address inside the node's namespace. */
export function forward(port: number, host: string, targetPort: number): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port: targetPort });
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'EADDRINUSE' ? `port ${port} on 127.0.0.1 is taken: stop what uses it${port === HOST_PORTS.apiserver || port === HOST_PORTS.jaegerQuery ? '' : ' or set CLUSTER_PORT'}` : err.message)),
    );
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(server));
  });
}
