/**
 * Builds the application for a test over a real socket, with an in-memory span exporter and a captured log, and
 * closes it in teardown.
 */
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import type { FastifyInstance } from 'fastify';
import { Writable } from 'node:stream';
import type { Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import type { Lifecycle } from '../../src/plugins/health.js';
import { SecretStore } from '../../src/secrets.js';
import { Startup } from '../../src/startup.js';
import { createTelemetry } from '../../src/telemetry.js';
import type { FunctionModule } from '../../src/types.js';

export interface TestApp {
  app: FastifyInstance;
  url: string;
  config: Config;
  metrics: Metrics;
  secrets: SecretStore;
  startup: Startup;
  /** What server.ts sets on SIGTERM (draining) and what readiness reads. */
  lifecycle: Lifecycle;
  /** Spans ended so far. */
  spans(): ReadableSpan[];
  /** Log lines written so far, parsed. */
  logs(): Array<Record<string, unknown>>;
  rawLogs(): string;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  fn?: FunctionModule;
  secrets?: SecretStore;
  /** The address to listen on (loopback unless a test needs another). */
  host?: string;
}

export async function startApp(t: Test, options: TestAppOptions = {}): Promise<TestApp> {
  const config = loadConfig({ PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'info', ...options.env });
  let output = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      output += String(chunk);
      cb();
    },
  });
  const logger = createLogger(config.logLevel, { service: config.service, revision: config.revision }, sink);
  const exporter = new InMemorySpanExporter();
  const startup = new Startup();
  const metrics = createMetrics(startup);
  const telemetry = await createTelemetry({
    config,
    logger,
    env: options.env ?? {},
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const secrets =
    options.secrets ??
    new SecretStore({
      ids: config.secretIds,
      region: config.region,
      refreshSeconds: config.secretsRefreshSeconds,
      logger,
      tracer: telemetry.tracer,
      onRefresh: (result) => metrics.secretRefresh.inc({ result }),
    });
  await secrets.load();
  secrets.startRefresh();
  const lifecycle: Lifecycle = { draining: false, ready: () => secrets.loaded };
  const app = await buildApp({ config, secrets, telemetry, metrics, startup, lifecycle, logger, fn: options.fn });
  await app.listen({ port: 0, host: options.host ?? '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  t.teardown(async () => {
    secrets.stop();
    await app.close();
    await telemetry.shutdown(1000);
  });
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    config,
    metrics,
    secrets,
    startup,
    lifecycle,
    spans: () => exporter.getFinishedSpans(),
    logs: () =>
      output
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    rawLogs: () => output,
  };
}
