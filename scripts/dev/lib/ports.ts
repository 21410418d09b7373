/** The local stack's ports (one home: `make dev`, `make trace` and the docs read them from here). */

export interface Ports {
  /** queue-proxy's serving port: FUNCTION_URL. */
  function: number;
  queueTls: number;
  /** queue-proxy's request metrics (Prometheus format). */
  queueMetrics: number;
  /** The function's PORT. */
  user: number;
  /** The function's METRICS_PORT: METRICS_URL. */
  metrics: number;
  jaegerQuery: number;
  jaegerOtlpHttp: number;
  prometheus: number;
  moto: number;
}

/** Defaults for `make dev` on the host network, clear of queue-proxy's reserved ports and of each other. */
export const DEFAULT_PORTS: Ports = {
  function: 8180,
  queueTls: 8181,
  queueMetrics: 8182,
  user: 8183,
  metrics: 8184,
  jaegerQuery: 16686,
  jaegerOtlpHttp: 4318,
  prometheus: 9190,
  moto: 5055,
};

/** Environment variable that overrides each port (also settable as a make variable). */
export const PORT_ENV: Record<keyof Ports, string> = {
  function: 'DEV_FUNCTION_PORT',
  queueTls: 'DEV_QUEUE_TLS_PORT',
  queueMetrics: 'DEV_QUEUE_METRICS_PORT',
  user: 'DEV_USER_PORT',
  metrics: 'DEV_METRICS_PORT',
  jaegerQuery: 'DEV_JAEGER_PORT',
  jaegerOtlpHttp: 'DEV_OTLP_PORT',
  prometheus: 'DEV_PROMETHEUS_PORT',
  moto: 'DEV_MOTO_PORT',
};
