/**
 * Tracing on @opentelemetry/sdk-node's NodeSDK, configured by the SDK itself from the standard OTEL_* variables
 * (exporter, protocol, endpoint, sampler, propagators, resource, batch processor). What this module adds:
 * - Defaults of this runtime: service.name/version from K_SERVICE/K_REVISION (OTEL_SERVICE_NAME and
 *   OTEL_RESOURCE_ATTRIBUTES still win, through the SDK's env detector); no OpenTelemetry metrics or logs unless
 *   OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER ask for them (metrics are Prometheus, logs are JSON on stdout).
 * - The instrumentations: outgoing HTTP (node:http/https, incoming off: plugins/observe.ts makes the one SERVER span
 *   per request), fetch (undici, through diagnostics_channel), the AWS SDK, and the function's own.
 * - Packages bundled into dist/ are patched through telemetry-hooks.ts (see scripts/lib/bundle.mjs), not require hooks.
 * - With tracing off, every request still gets its own span id (not recorded), for traceresponse and the logs.
 * NodeSDK and the instrumentations are a chunk of their own, imported here: runtime.ts starts this while the
 * Secrets Manager client loads.
 */
import { context, diag, DiagLogLevel, logs, metrics, propagation, trace, type DiagLogger, type Tracer } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Config } from './config.js';
import { patchBundledModules } from './telemetry-hooks.js';

export interface TelemetryLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface Telemetry {
  /**
   * False when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none: spans are not recorded, but still get ids, so
   * propagation, traceresponse and the logs' trace ids still work.
   */
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /**
   * Exports what is buffered, within min(timeoutMs, FLUSH_MAX_MS); never throws. A collector that fails or does not
   * answer in time is logged as a warning (unless quiet) and the spans are dropped.
   */
  shutdown(timeoutMs: number, quiet?: boolean): Promise<void>;
  forceFlush(): Promise<void>;
}

export interface TelemetryOptions {
  config: Config;
  logger: TelemetryLogger;
  /** The function's own instrumentations (its module's `instrumentations` export), added to the defaults. */
  instrumentations?: readonly Instrumentation[];
  /** Replaces the exporters chosen from the environment (tests use an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
  /** false: only `instrumentations`, not the defaults (in-process tests, whose own fetch calls are not the app's). */
  defaultInstrumentations?: boolean;
}

export const TRACER_NAME = 'knative-fn';
/** The longest the last flush may take at exit, whatever time the drain has left: a healthy export takes milliseconds. */
export const FLUSH_MAX_MS = 3_000;

function diagLogger(logger: TelemetryLogger): DiagLogger {
  const forward = (level: 'warn' | 'error') => (message: string, ...args: unknown[]) =>
    logger[level]({ component: 'opentelemetry', detail: args.map(String).join(' ').slice(0, 500) }, message);
  const ignore = () => {};
  return { error: forward('error'), warn: forward('warn'), info: ignore, debug: ignore, verbose: ignore };
}

type Sdk = typeof import('./telemetry-sdk.js');

/** The instrumentations every function gets: outgoing HTTP and fetch calls and AWS SDK commands are client spans. */
export function defaultInstrumentations(sdk: Sdk): Instrumentation[] {
  return [
    // Incoming requests are plugins/observe.ts's: this one would make a second SERVER span.
    new sdk.HttpInstrumentation({ disableIncomingRequestInstrumentation: true }),
    new sdk.UndiciInstrumentation(),
    new sdk.AwsInstrumentation(),
  ];
}

export async function createTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  const { logger, config } = options;
  // Before the SDK is loaded: NodeSDK replaces this logger only when OTEL_LOG_LEVEL is set.
  diag.setLogger(diagLogger(logger), { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });

  const sdk = await import('./telemetry-sdk.js');
  const { getBooleanFromEnv, getStringListFromEnv, W3CTraceContextPropagator, W3CBaggagePropagator, CompositePropagator } = sdk;

  if (getBooleanFromEnv('OTEL_SDK_DISABLED')) {
    // NodeSDK.start() does nothing at all then; propagation stays (the specification's disabled SDK is a no-op
    // tracer, propagators unaffected): the W3C defaults, so callers' traceparent still reaches traceresponse and logs.
    const manager = new sdk.AsyncLocalStorageContextManager();
    manager.enable();
    context.setGlobalContextManager(manager);
    propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
    return idsOnly(sdk);
  }

  const instrumentations = [...(options.defaultInstrumentations === false ? [] : defaultInstrumentations(sdk)), ...(options.instrumentations ?? [])];
  const metricsAsked = getStringListFromEnv('OTEL_METRICS_EXPORTER') !== undefined;
  if (metricsAsked) await sdk.loadMetricExporters();
  const nodeSdk = new sdk.NodeSDK({
    // The Knative identity as the default; the SDK's detectors (OTEL_NODE_RESOURCE_DETECTORS, by default env, host,
    // os, process, service instance id) are merged over it, so OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win.
    resource: sdk.defaultResource().merge(
      sdk.resourceFromAttributes({
        'service.name': config.service,
        'service.version': config.revision,
        'faas.name': config.service,
        'faas.version': config.revision,
      }),
    ),
    instrumentations,
    spanProcessors: options.spanProcessors,
    // The SDK's own default for both is an OTLP exporter (a meter provider with a periodic reader, a logger provider
    // with a batch processor). Unset here means none: the SDK reads the variables only when they are set.
    metricReaders: metricsAsked ? undefined : [],
    logRecordProcessors: getStringListFromEnv('OTEL_LOGS_EXPORTER') === undefined ? [] : undefined,
  });
  nodeSdk.start();
  // Packages bundled into dist/ that these instrumentations patch (the AWS SDK's client) never pass through
  // require(): they are handed over by the bundle itself.
  patchBundledModules(instrumentations);

  const shutdown = boundedShutdown(async () => {
    await nodeSdk.shutdown();
    // What start() registered, undone (a process builds telemetry once; tests build it per app).
    for (const instrumentation of instrumentations) instrumentation.disable();
    trace.disable();
    metrics.disable();
    logs.disable();
    propagation.disable();
    context.disable();
  }, logger);
  // The provider NodeSDK registered, if any: OTEL_TRACES_EXPORTER=none registers none (the instrumentations still
  // propagate context then).
  const provider = (trace.getTracerProvider() as { getDelegate?: () => unknown }).getDelegate?.();
  if (!(provider instanceof sdk.TracerProvider)) return { ...idsOnly(sdk), shutdown };
  return { enabled: true, tracer: provider.getTracer(TRACER_NAME), forceFlush: () => provider.forceFlush(), shutdown };
}

/**
 * Spans that cannot be delivered are lost, and the exit goes on: a warning, never a failed drain. The flush is bounded
 * well under any drain deadline: the exporter's own retries against a refused or silent collector
 * (OTEL_EXPORTER_OTLP_TIMEOUT, 10 s by default, with backoff) would otherwise hold the exit for seconds.
 */
function boundedShutdown(shutdown: () => Promise<void>, logger: TelemetryLogger): Telemetry['shutdown'] {
  let done: Promise<void> | undefined;
  return async (timeoutMs, quiet = false) => {
    const budgetMs = Math.min(timeoutMs, FLUSH_MAX_MS);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), budgetMs);
      timer.unref();
    });
    try {
      done ??= shutdown();
      const result = await Promise.race([done.then(() => 'done' as const), deadline]);
      if (result === 'timeout' && !quiet) {
        logger.warn({ timeoutMs: budgetMs }, 'telemetry flush did not finish in time; remaining spans dropped: check that the collector at OTEL_EXPORTER_OTLP_ENDPOINT answers');
      }
    } catch (err) {
      const e = err as { name?: string; code?: string };
      if (!quiet) {
        logger.warn(
          { errorClass: e.code ?? e.name ?? 'Error' },
          'telemetry flush failed; remaining spans dropped: check that the collector at OTEL_EXPORTER_OTLP_ENDPOINT is reachable',
        );
      }
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * Tracing off still gives each request its own span id (not recorded, not exported, flags 00) in the caller's trace or
 * a new one: traceresponse and the logs' span_id name this hop, never the caller's span.
 */
function idsOnly(sdk: Sdk): Telemetry {
  const ids = new sdk.TracerProvider({ sampler: new sdk.AlwaysOffSampler() });
  trace.setGlobalTracerProvider(ids);
  return {
    enabled: false,
    tracer: ids.getTracer(TRACER_NAME),
    shutdown: async () => {
      trace.disable();
      propagation.disable();
      context.disable();
    },
    forceFlush: async () => {},
  };
}
