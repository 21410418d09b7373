/**
 * queue-proxy's environment, built the way Knative's revision reconciler builds it
 * (knative.dev/serving v0.50.0 pkg/reconciler/revision/resources/queue.go makeQueueContainer), from the revision
 * the chart defines. Only the port numbers differ from a pod: locally they must not collide with other processes,
 * so the function's port and queue-proxy's serving ports are remapped (the fixed admin 8022 and stats 9090 cannot be).
 */
import type { Probe, Revision } from './chart.ts';

export interface QueueProxyPorts {
  /** QUEUE_SERVING_PORT: where callers reach the function (8012 in a pod, 8013 for h2c). */
  serving: number;
  /** QUEUE_SERVING_TLS_PORT: required even without TLS (8112 in a pod). */
  tls: number;
  /** USER_PORT: the function's PORT locally (the chart's containerPort in a pod). */
  user: number;
  /** Request metrics in Prometheus format (9091 in a pod), via METRICS_PROMETHEUS_PORT. */
  requestMetrics: number;
}

export interface QueueProxyOptions {
  revision: Revision;
  ports: QueueProxyPorts;
  podName: string;
  podIp: string;
  /** OTLP/HTTP traces URL (…/v1/traces), or undefined for tracing off. */
  tracingEndpoint: string | undefined;
  /** config-observability tracing-sampling-rate; 0 means never sample. */
  samplingRate: number;
}

/** The reconciler's applyReadinessProbeDefaults, with the probe's port mapped to the local user port. */
export function queueReadinessProbe(revision: Revision, userPort: number): Probe {
  const src = revision.readinessProbe;
  const mapPort = (port: number | string | undefined): number =>
    port === undefined || port === 0 || port === revision.containerPort ? userPort : Number(port);
  // Field order follows corev1.Probe's JSON encoding, which is what the reconciler writes.
  const out: Probe = {};
  if (src.httpGet) {
    out.httpGet = {
      ...(src.httpGet.path !== undefined ? { path: src.httpGet.path } : {}),
      port: mapPort(src.httpGet.port),
      host: '127.0.0.1',
      scheme: src.httpGet.scheme || 'HTTP',
      ...(src.httpGet.httpHeaders ? { httpHeaders: src.httpGet.httpHeaders } : {}),
    };
  } else if (src.tcpSocket || src.exec) {
    out.tcpSocket = { port: mapPort(src.exec ? undefined : src.tcpSocket?.port), host: '127.0.0.1' };
  } else if (src.grpc) {
    out.grpc = { ...src.grpc, port: mapPort(src.grpc.port) };
  }
  if (src.initialDelaySeconds) out.initialDelaySeconds = src.initialDelaySeconds;
  let timeoutSeconds = src.timeoutSeconds ?? 0;
  if ((src.periodSeconds ?? 0) > 0 && timeoutSeconds < 1) timeoutSeconds = 1;
  if (timeoutSeconds) out.timeoutSeconds = timeoutSeconds;
  if (src.periodSeconds) out.periodSeconds = src.periodSeconds;
  if (src.successThreshold) out.successThreshold = src.successThreshold;
  if (src.failureThreshold) out.failureThreshold = src.failureThreshold;
  return out;
}

/** config-observability as queue-proxy receives it (pkg/observability/config.go, JSON of the parsed ConfigMap). */
export function observabilityConfig(tracingEndpoint: string | undefined, samplingRate: number, requestMetricsPort: number): string {
  return JSON.stringify({
    tracing: tracingEndpoint ? { protocol: 'http/protobuf', endpoint: tracingEndpoint, samplingRate } : { protocol: 'none' },
    metrics: { protocol: 'none' },
    runtime: {},
    // Request metrics in Prometheus format on a local port (the cluster's platform pushes them over OTLP to its
    // collector instead); the local Prometheus scrapes them when the chart's PodMonitor selects http-usermetric.
    requestMetrics: { protocol: 'prometheus', endpoint: `:${requestMetricsPort}` },
  });
}

export function queueProxyEnv(o: QueueProxyOptions): Record<string, string> {
  const r = o.revision;
  return {
    SERVING_NAMESPACE: r.namespace,
    SERVING_SERVICE: r.serviceName,
    SERVING_CONFIGURATION: r.serviceName,
    SERVING_REVISION: r.revisionName,
    QUEUE_SERVING_PORT: String(o.ports.serving),
    QUEUE_SERVING_TLS_PORT: String(o.ports.tls),
    CONTAINER_CONCURRENCY: String(r.containerConcurrency),
    REVISION_TIMEOUT_SECONDS: String(r.timeoutSeconds),
    REVISION_RESPONSE_START_TIMEOUT_SECONDS: String(r.responseStartTimeoutSeconds ?? 0),
    REVISION_IDLE_TIMEOUT_SECONDS: String(r.idleTimeoutSeconds ?? 0),
    SERVING_POD: o.podName,
    SERVING_POD_IP: o.podIp,
    SERVING_LOGGING_CONFIG: '',
    SERVING_LOGGING_LEVEL: '',
    USER_PORT: String(o.ports.user),
    SYSTEM_NAMESPACE: 'knative-serving',
    SERVING_READINESS_PROBE: JSON.stringify(queueReadinessProbe(r, o.ports.user)),
    HOST_IP: o.podIp,
    ENABLE_HTTP2_AUTO_DETECTION: 'false',
    ENABLE_HTTP_FULL_DUPLEX: 'false',
    ROOT_CA: '',
    QUEUE_PROXY_TLS_MIN_VERSION: '',
    QUEUE_PROXY_TLS_MAX_VERSION: '',
    QUEUE_PROXY_TLS_CIPHER_SUITES: '',
    QUEUE_PROXY_TLS_CURVE_PREFERENCES: '',
    ENABLE_MULTI_CONTAINER_PROBES: 'false',
    OBSERVABILITY_CONFIG: observabilityConfig(o.tracingEndpoint, o.samplingRate, o.ports.requestMetrics),
    // The endpoint's port is enough for the exporter; the env var makes the override explicit (it wins).
    METRICS_PROMETHEUS_PORT: String(o.ports.requestMetrics),
  };
}
