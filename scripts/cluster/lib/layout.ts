/**
 * Where the local cluster lives: its network namespace and addresses, its ports, and the files it keeps. One
 * place, read by the bring-up, the teardown and the test suite; the node agent and the ingress take the same values
 * as flags.
 */
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..', '..');

/** The cluster's network namespace: the "node". Every control-plane process runs in it. */
export const CLUSTER_NETNS = 'kfn-cluster';
/** Pod namespaces the node agent creates are named `${POD_NETNS_PREFIX}<uid8>`. */
export const POD_NETNS_PREFIX = 'kfn-pod-';
/** The node's address (on the namespace's loopback: this kernel has no dummy link type). */
export const NODE_IP = '10.250.0.1';
export const NODE_NAME = 'local-node';
/** The veth pair between the host and the node: the host reaches the apiserver and the ingress through it. */
export const HOST_LINK = { hostIf: 'kfn-h0', nodeIf: 'kfn-c0', hostIp: '10.250.255.1', nodeIp: '10.250.255.2', prefix: 30 };
export const POD_CIDR = '10.244.0.0/24';
export const CLUSTER_CIDR = '10.244.0.0/16';
export const SERVICE_CIDR = '10.96.0.0/16';
export const CLUSTER_DOMAIN = 'cluster.local';

export const PORTS = {
  apiserver: 6443,
  etcd: 2379,
  etcdPeer: 2380,
  kubelet: 10250,
  /** The ingress: external listener (public routes) and internal listener (cluster-local routes). */
  ingressExternal: 8080,
  ingressInternal: 8081,
  /** Jaeger on the node: OTLP/HTTP in (the platform's collector Service points here), query API. */
  otlpHttp: 4318,
  jaegerQuery: 16686,
} as const;

/**
 * What the host reaches, on its loopback only: the supervisor forwards each to the node. Nothing on the host talks
 * to the node's address directly, so a kubeconfig or URL left over after `make cluster-down` cannot send traffic to
 * 10.250.0.1 through the host's default route.
 */
export const HOST_PORTS = {
  apiserver: 16443,
  /** Overridden by CLUSTER_PORT. */
  ingress: 8180,
  ingressInternal: 8181,
  jaegerQuery: 16686,
} as const;

export function hostPorts(env: NodeJS.ProcessEnv = process.env): { apiserver: number; ingress: number; ingressInternal: number; jaegerQuery: number } {
  return { ...HOST_PORTS, ingress: Number(env.CLUSTER_PORT || HOST_PORTS.ingress) };
}

/** The ingress class the platform configures (Kourier's); the local ingress serves it. */
export const INGRESS_CLASS = 'kourier.ingress.networking.knative.dev';

export interface Paths {
  /** Everything the running cluster writes: pki, etcd data, logs, pid files, the agent's state. */
  state: string;
  pki: string;
  /** For the host (kubectl, helm, tests): the apiserver through its loopback forward. */
  kubeconfig: string;
  /** For the processes inside the node's namespace: the apiserver at the node address. */
  nodeKubeconfig: string;
  logs: string;
  etcdData: string;
  agentState: string;
  /** Built binaries of the project's own cluster components (agent, ingress). */
  bin: string;
  /** The supervisor's pid, written while it runs. */
  pidFile: string;
  /** One JSON line per event of the bring-up (progress, ready, failed), which `make cluster` follows. */
  events: string;
}

/**
 * One local cluster per machine (its network namespace and ports are fixed), so its state lives in one place too,
 * whichever checkout started it: `make status ENV=local` or `make cluster-down` from any checkout finds it.
 */
export function paths(env: NodeJS.ProcessEnv = process.env): Paths {
  const state = env.KNATIVE_FN_CLUSTER_DIR || join(env.KNATIVE_FN_CACHE || join(env.HOME || '/root', '.cache', 'knative-fn'), 'cluster');
  return {
    state,
    pki: join(state, 'pki'),
    kubeconfig: join(state, 'kubeconfig'),
    nodeKubeconfig: join(state, 'node.kubeconfig'),
    logs: join(state, 'logs'),
    etcdData: join(state, 'etcd'),
    agentState: join(state, 'agent'),
    bin: join(state, 'bin'),
    pidFile: join(state, 'supervisor.pid'),
    events: join(state, 'events.jsonl'),
  };
}

/**
 * Where `make deploy-local` stages the function's "images" (Node plus dist/, as the Dockerfile's runtime stage holds),
 * one directory per tag. Outside the checkout on purpose: a pod mounts its own /tmp, which would hide a checkout
 * under /tmp from the pod's processes.
 */
export function imagesDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.KNATIVE_FN_CACHE || join(env.HOME || '/root', '.cache', 'knative-fn'), 'cluster-images');
}

/** The tools cache (shared with scripts/tools/install.sh): built binaries keyed by version. */
export function toolsCache(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.KNATIVE_FN_CACHE || join(env.HOME || '/root', '.cache', 'knative-fn'), 'tools');
}
