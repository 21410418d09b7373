/**
 * The process: configuration, the runtime around the author's function (runtime.ts), listen, the author's init, and
 * a graceful drain on SIGTERM. Start-up order is the cold-start path of a scale-from-zero request; each phase is
 * measured (startup.ts).
 */
import * as author from 'knative-fn/function';
import closeWithGrace from 'close-with-grace';
import type { FunctionModule } from './api.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { logSynchronously } from './logger.js';
import { createRuntime, type Runtime } from './runtime.js';
import { SecretLoadError } from './secrets.js';
import { releaseSignals } from './signals.js';
import { Startup, startedFromSnapshot } from './startup.js';

const startup = new Startup();
// The module as a value: its optional exports (env, init, ...) are read as properties, so a function without one is
// not an esbuild warning ("Import "env" will always be undefined").
const fn: FunctionModule = author;

function fatal(line: Record<string, unknown>): never {
  // One JSON line on stderr: a failing pod says why in `kubectl logs` and Knative's revision status.
  process.stderr.write(`${JSON.stringify({ level: 'fatal', time: new Date().toISOString(), ...line })}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let config: Config;
  try {
    // The runtime's variables and the function's own (its `env` export), validated together.
    config = loadConfig(process.env, fn.env);
  } catch (err) {
    if (err instanceof ConfigError) fatal({ msg: err.message, variable: err.variable });
    throw err;
  }
  startup.mark('config');

  // The author's module, as the build resolved it (scripts/build.mjs: FUNCTION).
  const runtime = await createRuntime(config, fn, { startup });
  const { logger, telemetry } = runtime;
  try {
    await runtime.secretsLoaded;
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
  startup.mark('secrets');

  // From here a signal drains (no gap between the first request and the drain handler).
  installShutdown(runtime);
  const { port, metricsPort } = await runtime.listen();
  logger.info(
    {
      port,
      metricsPort,
      secretCount: config.secretIds.length,
      tracing: telemetry.enabled,
      snapshot: startedFromSnapshot(),
      startupMs: Math.round(startup.durationsMs().reduce((sum, [, ms]) => sum + ms, 0)),
    },
    'listening',
  );
  if (runtime.fn.init) {
    const began = Date.now();
    try {
      await runtime.init();
    } catch (err) {
      // Readiness never turned 200: nothing was routed here, nothing to drain.
      logger.fatal({ err }, 'the function\'s init failed: exiting');
      await telemetry.shutdown(1_000, true);
      process.exit(1);
    }
    logger.info({ initMs: Date.now() - began }, 'init done: ready');
  }
}

/**
 * SIGTERM/SIGINT (close-with-grace): readiness 503, finish in-flight requests, close keep-alive sockets, the author's
 * shutdown, the metrics server, flush spans, exit 0. A second signal exits 1 at once; so does the deadline
 * (SHUTDOWN_TIMEOUT_SECONDS). Other signals and errors keep Node's default behaviour.
 */
const OTHER_EVENTS = ['SIGHUP', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGSEGV', 'SIGUSR2', 'uncaughtException', 'unhandledRejection', 'beforeExit'] as const;

function installShutdown(runtime: Runtime): void {
  const { logger: log, config } = runtime;
  const deadlineMs = config.shutdownTimeoutSeconds * 1000;
  // boot.ts's listener (exit before listening) hands over to the drain in the same tick.
  releaseSignals();
  closeWithGrace(
    {
      delay: deadlineMs,
      skip: [...OTHER_EVENTS],
      logger: { error: (err: unknown) => log.error({ err }, 'drain failed') },
      onSecondSignal: (signal) => log.warn({ signal }, 'second signal during drain: exiting now'),
      onTimeout: () => log.error({ deadlineMs }, `drain did not finish within ${config.shutdownTimeoutSeconds}s (SHUTDOWN_TIMEOUT_SECONDS): exiting`),
    },
    async ({ signal }) => {
      const began = Date.now();
      logSynchronously(); // the drain's lines, and the last one before exit, are written before the process ends
      log.info({ signal }, 'draining: readiness is 503, finishing in-flight requests');
      await runtime.close(began + deadlineMs);
      log.info({ drainMs: Date.now() - began }, 'drained: exiting');
    },
  );
}

main().catch((err: unknown) => {
  const e = err as { name?: string; code?: string; message?: string };
  // Port clashes and the like: name the cause and what to do.
  const hint = e.code === 'EADDRINUSE' ? 'another process uses the port: change PORT or METRICS_PORT' : undefined;
  fatal({ msg: `startup failed: ${e.name ?? 'Error'}${e.code ? ` ${e.code}` : ''}`, hint, error: e.message });
});
