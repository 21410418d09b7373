/**
 * Tracing set-up with the OpenTelemetry SDK's configuration surface (the standard OTEL_* variables), built from the
 * SDK's own parts (@opentelemetry/sdk-trace, the OTLP exporters) rather than @opentelemetry/sdk-node's NodeSDK:
 * NodeSDK loads every exporter and instrumentation it could be configured with, which on its own costs more start-up
 * time than Fastify. This module loads only the exporter the environment asks for, and no require hooks: the one
 * SERVER span per request is made by plugins/observe.ts.
 */
import { context, diag, DiagLogLevel, propagation, trace, type DiagLogger, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, ExportResultCode, W3CBaggagePropagator, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { randomUUID } from 'node:crypto';
import type { Config } from './config.js';

type Env = Readonly<Record<string, string | undefined>>;

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
  env?: Env;
  /** Replaces the exporters chosen from the environment (tests use an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
}

export const TRACER_NAME = 'knative-fn';
const DEFAULT_RATIO = 1;
/** The longest the last flush may take at exit, whatever time the drain has left: a healthy export takes milliseconds. */
export const FLUSH_MAX_MS = 3_000;

function str(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function list(env: Env, name: string): string[] {
  return (str(env, name) ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

function nonNegative(env: Env, name: string, logger: TelemetryLogger): number | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) {
    logger.warn({ variable: name }, `${name} must be a non-negative number; using the SDK default`);
    return undefined;
  }
  return n;
}

function samplerRatio(env: Env, logger: TelemetryLogger): number {
  const raw = str(env, 'OTEL_TRACES_SAMPLER_ARG');
  if (raw === undefined) return DEFAULT_RATIO;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 1) {
    logger.warn({ variable: 'OTEL_TRACES_SAMPLER_ARG' }, `OTEL_TRACES_SAMPLER_ARG must be within [0..1]; using ${DEFAULT_RATIO}`);
    return DEFAULT_RATIO;
  }
  return n;
}

/** OTEL_TRACES_SAMPLER as the specification defines it; an unknown value is logged and the default used. */
export function samplerFromEnv(env: Env, logger: TelemetryLogger): Sampler {
  const name = (str(env, 'OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on').toLowerCase();
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(samplerRatio(env, logger));
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(samplerRatio(env, logger)) });
    default:
      logger.warn({ variable: 'OTEL_TRACES_SAMPLER' }, `unknown OTEL_TRACES_SAMPLER ${JSON.stringify(name)}; using parentbased_always_on`);
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** OTEL_RESOURCE_ATTRIBUTES (k=v,k2=v2, percent-encoded values) plus the Knative identity of this revision. */
export function resourceAttributesFromEnv(env: Env, config: Config): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const pair of (str(env, 'OTEL_RESOURCE_ATTRIBUTES') ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // keep the raw value: the specification asks to ignore only the malformed pair's decoding
    }
    if (key) attributes[key] = value;
  }
  attributes['service.name'] = str(env, 'OTEL_SERVICE_NAME') ?? attributes['service.name'] ?? config.service;
  attributes['service.version'] ??= config.revision;
  attributes['service.instance.id'] ??= randomUUID();
  attributes['faas.name'] ??= config.service;
  attributes['faas.version'] ??= config.revision;
  attributes['telemetry.sdk.language'] = 'nodejs';
  attributes['telemetry.sdk.name'] = 'opentelemetry';
  return attributes;
}

/**
 * An exporter loaded on its first export: the OTLP exporter (protobufjs and the OTLP transport) is not needed before
 * the first batch leaves, seconds after the first request, so its loading is off the cold-start path.
 */
class LazyExporter implements SpanExporter {
  private loaded: Promise<SpanExporter> | undefined;

  constructor(private readonly load: () => Promise<SpanExporter>) {}

  private exporter(): Promise<SpanExporter> {
    this.loaded ??= this.load();
    return this.loaded;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.exporter().then(
      (exporter) => exporter.export(spans, resultCallback),
      (error: unknown) => resultCallback({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) }),
    );
  }

  /** The exporter, or undefined when it was never needed or failed to load (that failure was reported by export). */
  private async settled(): Promise<SpanExporter | undefined> {
    return this.loaded?.catch(() => undefined);
  }

  async shutdown(): Promise<void> {
    await (await this.settled())?.shutdown();
  }

  async forceFlush(): Promise<void> {
    await (await this.settled())?.forceFlush?.();
  }
}

function otlpExporter(env: Env, logger: TelemetryLogger): SpanExporter {
  const protocol = (str(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? str(env, 'OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/protobuf').toLowerCase();
  switch (protocol) {
    case 'http/json':
      return new LazyExporter(async () => {
        const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
        return new OTLPTraceExporter();
      });
    case 'grpc':
      logger.warn(
        { variable: 'OTEL_EXPORTER_OTLP_PROTOCOL' },
        'OTLP over gRPC is not bundled (it doubles start-up time); exporting with http/protobuf instead: point OTEL_EXPORTER_OTLP_ENDPOINT at the collector\'s HTTP port (4318)',
      );
      break;
    case 'http/protobuf':
      break;
    default:
      logger.warn({ variable: 'OTEL_EXPORTER_OTLP_PROTOCOL' }, `unsupported OTLP protocol ${JSON.stringify(protocol)}; using http/protobuf`);
  }
  return new LazyExporter(async () => {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
    return new OTLPTraceExporter();
  });
}

async function processorsFromEnv(env: Env, logger: TelemetryLogger): Promise<SpanProcessor[]> {
  const names = [...new Set(list(env, 'OTEL_TRACES_EXPORTER'))];
  if (names.length === 0) names.push('otlp');
  if (names.includes('none')) return [];
  const processors: SpanProcessor[] = [];
  for (const name of names) {
    if (name === 'otlp') {
      processors.push(
        new BatchSpanProcessor({
          exporter: otlpExporter(env, logger),
          maxQueueSize: nonNegative(env, 'OTEL_BSP_MAX_QUEUE_SIZE', logger),
          scheduledDelayMillis: nonNegative(env, 'OTEL_BSP_SCHEDULE_DELAY', logger),
          exportTimeoutMillis: nonNegative(env, 'OTEL_BSP_EXPORT_TIMEOUT', logger),
          maxExportBatchSize: nonNegative(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', logger),
        }),
      );
    } else if (name === 'console') {
      processors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
    } else {
      logger.warn({ variable: 'OTEL_TRACES_EXPORTER' }, `unsupported OTEL_TRACES_EXPORTER ${JSON.stringify(name)}; supported: otlp, console, none`);
    }
  }
  return processors;
}

function propagatorFromEnv(env: Env, logger: TelemetryLogger) {
  const names = list(env, 'OTEL_PROPAGATORS');
  const chosen = names.length === 0 ? ['tracecontext', 'baggage'] : names;
  const propagators = [];
  for (const name of chosen) {
    if (name === 'tracecontext') propagators.push(new W3CTraceContextPropagator());
    else if (name === 'baggage') propagators.push(new W3CBaggagePropagator());
    else if (name !== 'none') logger.warn({ variable: 'OTEL_PROPAGATORS' }, `unsupported propagator ${JSON.stringify(name)}; supported: tracecontext, baggage, none`);
  }
  return new CompositePropagator({ propagators });
}

function diagLogger(logger: TelemetryLogger): DiagLogger {
  const forward = (level: 'warn' | 'error') => (message: string, ...args: unknown[]) =>
    logger[level]({ component: 'opentelemetry', detail: args.map(String).join(' ').slice(0, 500) }, message);
  const ignore = () => {};
  return { error: forward('error'), warn: forward('warn'), info: ignore, debug: ignore, verbose: ignore };
}

export async function createTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  const env = options.env ?? process.env;
  const { logger, config } = options;
  diag.setLogger(diagLogger(logger), { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });

  // Propagation works even with tracing off, so callers' traceparent still reaches the logs and traceresponse.
  propagation.setGlobalPropagator(propagatorFromEnv(env, logger));
  context.setGlobalContextManager(new AsyncLocalStorageContextManager());

  const disabled = str(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true';
  const processors = disabled ? [] : (options.spanProcessors ?? (await processorsFromEnv(env, logger)));
  if (processors.length === 0) {
    // Tracing off still gives each request its own span id (not recorded, not exported, flags 00) in the caller's
    // trace or a new one: traceresponse and the logs' span_id name this hop, never the caller's span.
    const ids = new TracerProvider({ sampler: new AlwaysOffSampler() });
    trace.setGlobalTracerProvider(ids);
    return {
      enabled: false,
      tracer: ids.getTracer(TRACER_NAME),
      shutdown: async () => {},
      forceFlush: async () => {},
    };
  }

  const provider = new TracerProvider({
    resource: resourceFromAttributes(resourceAttributesFromEnv(env, config)),
    sampler: samplerFromEnv(env, logger),
    spanProcessors: processors,
  });
  trace.setGlobalTracerProvider(provider);
  return {
    enabled: true,
    tracer: provider.getTracer(TRACER_NAME),
    forceFlush: () => provider.forceFlush(),
    shutdown: async (timeoutMs, quiet = false) => {
      // Spans that cannot be delivered are lost, and the exit goes on: a warning, never a failed drain. The flush is
      // bounded well under any drain deadline: the exporter's own retries against a refused or silent collector
      // (OTEL_EXPORTER_OTLP_TIMEOUT, 10 s by default, with backoff) would otherwise hold the exit for seconds.
      const budgetMs = Math.min(timeoutMs, FLUSH_MAX_MS);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), budgetMs);
        timer.unref();
      });
      try {
        const result = await Promise.race([provider.shutdown().then(() => 'done' as const), deadline]);
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
    },
  };
}
