/**
 * Builds the runtime (runtime.ts, as server.ts does) around a fixture function for a test, over a real socket, with an
 * in-memory span exporter and a captured log, and drains it in teardown.
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { FastifyInstance } from 'fastify';
import { Writable } from 'node:stream';
import type { Test } from 'tap';
import type { FunctionModule } from '../../src/api.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Metrics } from '../../src/metrics.js';
import type { Lifecycle } from '../../src/plugins/health.js';
import { createRuntime } from '../../src/runtime.js';
import type { SecretStore } from '../../src/secrets.js';
import type { Startup } from '../../src/startup.js';
import { spanRecorder } from '../../src/testing.js';
import * as basic from '../fixtures/basic/index.js';

export interface TestApp {
  app: FastifyInstance;
  url: string;
  metricsUrl: string;
  config: Config;
  metrics: Metrics;
  secrets: SecretStore;
  startup: Startup;
  /** What the drain sets (draining) and what readiness reads. */
  lifecycle: Lifecycle;
  /** Spans ended so far. */
  spans(): ReadableSpan[];
  /** Log lines written so far, parsed. */
  logs(): Array<Record<string, unknown>>;
  rawLogs(): string;
  /** The drain (also run in teardown). */
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  /** The function to serve: the basic fixture (function/test/fixtures/basic) unless given. */
  fn?: FunctionModule;
  /** The address to listen on (loopback unless a test needs another). */
  host?: string;
  /** Leave the function's init to the test (runtime.init()); readiness stays 503 until then. */
  skipInit?: boolean;
  /** Turn on the default instrumentations (outgoing HTTP, fetch, AWS SDK): off in process, where the test's own calls are traced too. */
  defaultInstrumentations?: boolean;
}

export async function startApp(t: Test, options: TestAppOptions = {}): Promise<TestApp & { init(): Promise<void> }> {
  const config = loadConfig({ PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'info', ...options.env }, options.fn?.env);
  let output = '';
  const logDestination = new Writable({
    write(chunk, _enc, cb) {
      output += String(chunk);
      cb();
    },
  });
  const recorder = spanRecorder();
  const runtime = await createRuntime(config, options.fn ?? basic, {
    logDestination,
    spanProcessors: [recorder.processor],
    defaultInstrumentations: options.defaultInstrumentations ?? false,
  });
  t.teardown(() => runtime.close().catch(() => {}));
  await runtime.secretsLoaded;
  const { port, metricsPort } = await runtime.listen({ host: options.host ?? '127.0.0.1', port: 0, metricsPort: 0 });
  if (!options.skipInit) await runtime.init();
  return {
    app: runtime.app,
    url: `http://127.0.0.1:${port}`,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    config,
    metrics: runtime.metrics,
    secrets: runtime.secrets,
    startup: runtime.startup,
    lifecycle: runtime.lifecycle,
    spans: recorder.spans,
    logs: () =>
      output
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    rawLogs: () => output,
    close: () => runtime.close(),
    init: () => runtime.init(),
  };
}
