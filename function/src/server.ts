/**
 * The process: configuration, telemetry, secrets, listen, and a graceful drain on SIGTERM.
 * Start-up order is the cold-start path of a scale-from-zero request; each phase is measured (startup.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import { buildApp } from './app.js';
import { CONTRACT, ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { createMetrics, createMetricsServer } from './metrics.js';
import type { Lifecycle } from './plugins/health.js';
import { SecretLoadError, SecretStore } from './secrets.js';
import { onSignal } from './signals.js';
import { Startup } from './startup.js';
import { createTelemetry, type Telemetry } from './telemetry.js';

const startup = new Startup();

function fatal(line: Record<string, unknown>): never {
  // One JSON line on stderr: a failing pod says why in `kubectl logs` and Knative's revision status.
  process.stderr.write(`${JSON.stringify({ level: 'fatal', time: new Date().toISOString(), ...line })}\n`);
  process.exit(1);
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fatal({ msg: err.message, variable: err.variable });
    throw err;
  }
  startup.mark('config');

  const logger = createLogger(config.logLevel, { service: config.service, revision: config.revision });
  const telemetry: Telemetry = await createTelemetry({ config, logger });
  startup.mark('telemetry');

  const metrics = createMetrics(startup);
  const secrets = new SecretStore({
    ids: config.secretIds,
    region: config.region,
    refreshSeconds: config.secretsRefreshSeconds,
    logger,
    tracer: telemetry.enabled ? telemetry.tracer : undefined,
    onRefresh: (result, at) => {
      metrics.secretRefresh.inc({ result });
      if (result === 'success') metrics.secretLastSuccess.set(at.getTime() / 1000);
    },
  });
  const lifecycle: Lifecycle = { draining: false, ready: () => secrets.loaded };

  // Secrets are read while the app is built: both are on the cold-start path, neither needs the other.
  const loading = secrets.load();
  loading.catch(() => {}); // handled below; avoids an unhandled-rejection warning while the app builds
  const app = await buildApp({ config, secrets, telemetry, metrics, startup, lifecycle, logger });
  try {
    await loading;
  } catch (err) {
    if (err instanceof SecretLoadError) {
      // The failed secrets.load span is worth a last export attempt; the fatal line below says the rest.
      await telemetry.shutdown(1_000, true);
      fatal({
        msg: `startup failed: ${err.message}`,
        secretId: err.secretId,
        errorClass: err.errorClass,
        awsRequestId: err.requestId,
        service: config.service,
        revision: config.revision,
      });
    }
    throw err;
  }
  if (config.secretIds.length > 0) metrics.secretLastSuccess.set(Date.now() / 1000);
  startup.mark('secrets');

  const metricsServer = createMetricsServer(metrics, CONTRACT.metricsPath);
  // From here a signal drains (no gap between the first request and the drain handler).
  installShutdown({ app, metricsServer, telemetry, secrets, lifecycle, config });
  await app.listen({ port: config.port, host: config.host });
  const metricsPort = await listen(metricsServer, config.metricsPort, config.host);
  startup.mark('listen');
  // Off the path of the request that woke the process (see createMetrics); a scrape before then registers them.
  setTimeout(() => metrics.collectDefaults(), 1_000).unref();
  secrets.startRefresh();

  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info(
    {
      port,
      metricsPort,
      secretCount: config.secretIds.length,
      tracing: telemetry.enabled,
      startupMs: Math.round(startup.durationsMs().reduce((sum, [, ms]) => sum + ms, 0)),
    },
    'listening',
  );
}

interface Running {
  app: FastifyInstance;
  metricsServer: Server;
  telemetry: Telemetry;
  secrets: SecretStore;
  lifecycle: Lifecycle;
  config: Config;
}

/** SIGTERM/SIGINT: readiness 503, finish in-flight requests, close keep-alive sockets, flush spans, exit 0. */
function installShutdown(running: Running): void {
  const { app, metricsServer, telemetry, secrets, lifecycle, config } = running;
  const log = app.log;
  let stopping = false;

  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal during drain: exiting now');
      process.exit(1);
    }
    stopping = true;
    const began = Date.now();
    const deadlineMs = config.shutdownTimeoutSeconds * 1000;
    const timer = setTimeout(() => {
      log.error({ deadlineMs }, `drain did not finish within ${config.shutdownTimeoutSeconds}s (SHUTDOWN_TIMEOUT_SECONDS): exiting`);
      process.exit(1);
    }, deadlineMs);
    timer.unref();

    lifecycle.draining = true;
    log.info({ signal }, 'draining: readiness is 503, finishing in-flight requests');
    secrets.stop();
    try {
      await app.close();
      // (An error here only says it was not listening yet: a signal during listen.)
      await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      // Flushing the last spans gets what time is left (minus a margin), at most FLUSH_MAX_MS; it never throws.
      await telemetry.shutdown(Math.max(500, deadlineMs - (Date.now() - began) - 500));
      log.info({ drainMs: Date.now() - began }, 'drained: exiting');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'drain failed');
      process.exit(1);
    }
  };
  // boot.ts installed the signal listener first; from now on a signal drains.
  onSignal((s) => void stop(s));
}

main().catch((err: unknown) => {
  const e = err as { name?: string; code?: string; message?: string };
  // Port clashes and the like: name the cause and what to do.
  const hint = e.code === 'EADDRINUSE' ? 'another process uses the port: change PORT or METRICS_PORT' : undefined;
  fatal({ msg: `startup failed: ${e.name ?? 'Error'}${e.code ? ` ${e.code}` : ''}`, hint, error: e.message });
});
