/**
 * What telemetry.ts uses of the OpenTelemetry SDK, in one module that telemetry.ts imports dynamically: the bundle
 * gives it a chunk of its own (loaded while the Secrets Manager client loads), and names exported statically let the
 * bundler drop what NodeSDK's package also exports and the function never calls (startNodeSDK and its declarative
 * configuration: a YAML parser and a schema, half of the package's code).
 */
export { NodeSDK } from '@opentelemetry/sdk-node';
export { getBooleanFromEnv, getStringListFromEnv, CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
export { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
export { AlwaysOffSampler, TracerProvider } from '@opentelemetry/sdk-trace';
export { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
export { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
export { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
export { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk';

/**
 * NodeSDK constructs a metrics exporter synchronously while it starts; the bundle loads the metrics exporter packages
 * only through this function (scripts/lib/bundle.mjs), which telemetry.ts awaits when OTEL_METRICS_EXPORTER is set.
 */
export async function loadMetricExporters(): Promise<void> {
  const registry = ((globalThis as Record<symbol, Map<string, unknown> | undefined>)[Symbol.for('knative-fn.metric-exporters')] ??= new Map());
  const [grpc, http, proto, prometheus] = await Promise.all([
    import('@opentelemetry/exporter-metrics-otlp-grpc'),
    import('@opentelemetry/exporter-metrics-otlp-http'),
    import('@opentelemetry/exporter-metrics-otlp-proto'),
    import('@opentelemetry/exporter-prometheus'),
  ]);
  registry.set('@opentelemetry/exporter-metrics-otlp-grpc', grpc);
  registry.set('@opentelemetry/exporter-metrics-otlp-http', http);
  registry.set('@opentelemetry/exporter-metrics-otlp-proto', proto);
  registry.set('@opentelemetry/exporter-prometheus', prometheus);
}
