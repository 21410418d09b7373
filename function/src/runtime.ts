/**
 * The composition root: configuration and the author's function in, a runtime out (logger, telemetry, metrics,
 * secrets, the app). The process (server.ts) and the tests (function/test/helpers/app.ts, 'knative-fn/testing') build
 * the runtime here and nowhere else; they differ only by the overrides.
 *
 * Its life: createRuntime() (secrets load while the app is built) -> `secretsLoaded` -> listen() -> init() (the
 * author's hook; readiness turns 200 when it is done) -> close() (the drain: stop accepting, in-flight requests,
 * the author's shutdown, the metrics server, the last spans).
 */
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import type { DestinationStream, Logger } from 'pino';
import type { FunctionModule } from './api.js';
import { buildApp } from './app.js';
import { CONTRACT, type Config } from './config.js';
import { createLogger, redactSecretValues } from './logger.js';
import { createMetrics, createMetricsServer, type Metrics } from './metrics.js';
import type { Lifecycle } from './plugins/health.js';
import { preloadSecretsClient, SecretStore, type Fetcher } from './secrets.js';
import { Startup } from './startup.js';
import { createTelemetry, type Telemetry } from './telemetry.js';

export interface RuntimeOverrides {
  /** Where the log lines go (stdout otherwise). */
  logDestination?: DestinationStream;
  /** Span processors in place of the exporters chosen from the environment (tests: an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
  /** false: not the default instrumentations (tests in process, whose own HTTP calls are not the function's). */
  defaultInstrumentations?: boolean;
  /** Where the secret values come from (Secrets Manager otherwise). */
  fetcher?: Fetcher;
  startup?: Startup;
}

export interface Runtime {
  readonly config: Config;
  readonly fn: FunctionModule;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  readonly metrics: Metrics;
  readonly secrets: SecretStore;
  readonly startup: Startup;
  /** What readiness reads; `draining` is set by close(). */
  readonly lifecycle: Lifecycle;
  /** Built and ready, not listening yet. */
  readonly app: FastifyInstance;
  /** Settles when the secrets are loaded; rejects with a SecretLoadError. */
  readonly secretsLoaded: Promise<void>;
  /** Listens on the function's and the metrics' ports; starts the secrets' refresh. Returns the ports bound. */
  listen(address?: { host?: string; port?: number; metricsPort?: number }): Promise<{ port: number; metricsPort: number }>;
  /** Runs the author's `init` (if any); readiness turns 200 when it resolves. Rejects with the hook's error. */
  init(): Promise<void>;
  /**
   * The drain, in order: readiness 503 and no new connections, the in-flight requests, the author's `shutdown`, the
   * metrics server, the last spans (flushed with what is left until `deadlineAt`). Rejects (after every step ran)
   * when a step failed.
   */
  close(deadlineAt?: number): Promise<void>;
}

function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

export async function createRuntime(config: Config, fn: FunctionModule, overrides: RuntimeOverrides = {}): Promise<Runtime> {
  const startup = overrides.startup ?? new Startup();
  const logger = createLogger(config.logLevel, { service: config.service, revision: config.revision }, overrides.logDestination);
  // The Secrets Manager client loads beside the SDK (the AWS SDK instrumentation patches it whichever comes first).
  if (config.secretIds.length > 0 && !overrides.fetcher) preloadSecretsClient();
  const telemetry = await createTelemetry({
    config,
    logger,
    instrumentations: fn.instrumentations,
    spanProcessors: overrides.spanProcessors,
    defaultInstrumentations: overrides.defaultInstrumentations,
  });
  startup.mark('telemetry');

  const metrics = createMetrics(startup);
  const secrets = new SecretStore({
    ids: config.secretIds,
    region: config.region,
    refreshSeconds: config.secretsRefreshSeconds,
    logger,
    tracer: telemetry.enabled ? telemetry.tracer : undefined,
    fetcher: overrides.fetcher,
    onRefresh: (result, at) => {
      metrics.secretRefresh.inc({ result });
      if (result === 'success') metrics.secretLastSuccess.set(at.getTime() / 1000);
    },
  });
  // Whatever a line's field names, the secrets' values never reach the log.
  redactSecretValues(logger, () => secrets.snapshot());

  let initialized = fn.init === undefined;
  const lifecycle: Lifecycle = { draining: false, ready: () => initialized && secrets.loaded };

  // Secrets are read while the app is built: both are on the cold-start path, neither needs the other.
  const secretsLoaded = secrets.load().then(() => {
    if (config.secretIds.length > 0) metrics.secretLastSuccess.set(Date.now() / 1000);
  });
  secretsLoaded.catch(() => {}); // the caller awaits it; avoids an unhandled-rejection warning while the app builds
  const app = await buildApp({ config, secrets, telemetry, metrics, startup, lifecycle, logger, fn });

  let metricsServer: Server | undefined;
  let initRun: Promise<void> | undefined;
  let closing: Promise<void> | undefined;

  const close = async (deadlineAt: number): Promise<void> => {
    const failures: unknown[] = [];
    lifecycle.draining = true;
    secrets.stop();
    // (An error here only says it was not listening yet: a signal during listen.)
    await app.close().catch((err: unknown) => failures.push(err));
    if (fn.shutdown) {
      // An init still running is let finish first: shutdown sees what init made.
      await initRun?.catch(() => {});
      try {
        await fn.shutdown();
      } catch (err) {
        logger.error({ err }, 'the function\'s shutdown failed');
        failures.push(err);
      }
    }
    if (metricsServer?.listening) await new Promise<void>((resolve) => metricsServer?.close(() => resolve()));
    // Flushing the last spans gets what time is left (minus a margin), at most FLUSH_MAX_MS; it never throws.
    await telemetry.shutdown(Math.max(500, deadlineAt - Date.now() - 500));
    if (failures.length > 0) throw failures[0];
  };

  return {
    config,
    fn,
    logger,
    telemetry,
    metrics,
    secrets,
    startup,
    lifecycle,
    app,
    secretsLoaded,
    async listen(address = {}) {
      const host = address.host ?? config.host;
      await app.listen({ port: address.port ?? config.port, host });
      metricsServer = createMetricsServer(metrics, CONTRACT.metricsPath);
      const metricsPort = await listenOn(metricsServer, address.metricsPort ?? config.metricsPort, host);
      startup.mark('listen');
      // Off the path of the request that woke the process (see createMetrics); a scrape before then registers them.
      setTimeout(() => metrics.collectDefaults(), 1_000).unref();
      secrets.startRefresh();
      const bound = app.server.address();
      return { port: typeof bound === 'object' && bound ? bound.port : config.port, metricsPort };
    },
    init() {
      initRun ??= (async () => {
        if (fn.init) await fn.init({ config, secrets, logger });
        initialized = true;
      })();
      return initRun;
    },
    close(deadlineAt = Date.now() + config.shutdownTimeoutSeconds * 1000) {
      closing ??= close(deadlineAt);
      return closing;
    },
  };
}
