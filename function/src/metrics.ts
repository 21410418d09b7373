/**
 * Prometheus metrics (prom-client), served on METRICS_PORT only: never on the public port.
 * Names follow Prometheus conventions and the OpenTelemetry HTTP semantic conventions' duration metric.
 */
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Startup } from './startup.js';

/** OTel's http.server.request.duration buckets (seconds), which bracket typical SLOs (100 ms - 1 s). */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** The route label of requests that matched no route: raw paths never become label values. */
export const UNMATCHED_ROUTE = '(unmatched)';

export interface Metrics {
  readonly registry: Registry;
  readonly requestDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly activeRequests: Gauge;
  readonly secretRefresh: Counter<'result'>;
  readonly secretLastSuccess: Gauge;
  /** Registers prom-client's default process and Node.js metrics (idempotent); see createMetrics. */
  collectDefaults(): void;
}

export function createMetrics(startup: Startup): Metrics {
  const registry = new Registry();
  // prom-client's default metrics (process, heap, event loop, GC) are registered a second after listening
  // (server.ts), or by the first scrape if that comes first: they are not needed to serve the request that woke
  // the process. process_start_time_seconds and the CPU counters cover the process from its start.
  let defaults = false;
  const collectDefaults = () => {
    if (defaults) return;
    defaults = true;
    collectDefaultMetrics({ register: registry });
  };

  const requestDuration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP requests served by the function, by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const activeRequests = new Gauge({
    name: 'http_server_active_requests',
    help: 'HTTP requests being served by the function right now (health probes excluded).',
    registers: [registry],
  });
  new Gauge({
    name: 'function_cold_start_phase_seconds',
    help: 'Seconds from process start to the end of each start-up phase (config, telemetry, secrets, listen, first_response).',
    labelNames: ['phase'] as const,
    registers: [registry],
    collect() {
      for (const [phase, seconds] of startup.milestonesSeconds()) this.set({ phase }, seconds);
    },
  });
  const secretRefresh = new Counter({
    name: 'function_secret_refresh_total',
    help: 'Background refreshes of the cached Secrets Manager values, by result.',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  // Known label sets start at zero, so rate() and alerts see the series before the first event.
  secretRefresh.inc({ result: 'success' }, 0);
  secretRefresh.inc({ result: 'failure' }, 0);
  const secretLastSuccess = new Gauge({
    name: 'function_secret_last_refresh_success_timestamp_seconds',
    help: 'Unix time of the last successful read of the Secrets Manager values (start-up or refresh).',
    registers: [registry],
  });
  return { registry, requestDuration, activeRequests, secretRefresh, secretLastSuccess, collectDefaults };
}

/** A bare node:http server for /metrics: no framework, no logging per scrape, nothing else exposed. */
export function createMetricsServer(metrics: Metrics, path: string): Server {
  const registry = metrics.registry;
  return createServer((req, res) => {
    const url = req.url ?? '/';
    const pathname = url.split('?', 1)[0];
    if (pathname !== path || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ statusCode: 404, error: 'Not Found', message: `only GET ${path} is served on this port` }));
      return;
    }
    metrics.collectDefaults();
    registry.metrics().then(
      (body) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      () => {
        res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ statusCode: 500, error: 'Internal Server Error', message: 'metrics collection failed' }));
      },
    );
  });
}
