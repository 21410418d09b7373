/**
 * Testing a function: `import { build } from 'knative-fn/testing'` builds the runtime around a function module, the
 * same composition as in production (runtime.ts) with in-memory peers: secrets given as values, spans kept in memory,
 * log lines captured. The app is ready for `app.inject()` (it does not listen); close() drains it as SIGTERM would
 * (the function's shutdown included).
 *
 *   const fn = await build(await import('../index.ts'), { secrets: { API_TOKEN: 'test-token' } });
 *   t.after(() => fn.close());
 *   const res = await fn.app.inject({ url: '/' });
 */
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { Writable } from 'node:stream';
import type { FunctionModule } from './api.js';
import { loadConfig } from './config.js';
import { createRuntime } from './runtime.js';

export interface BuildOptions {
  /** The secrets the function reads (`app.secrets.get(key)`), as if loaded from Secrets Manager. */
  secrets?: Record<string, string>;
  /** Environment variables of the runtime (K_SERVICE, BODY_LIMIT_BYTES, LOG_LEVEL...). */
  env?: Record<string, string>;
  /**
   * true: the function's outgoing calls (fetch, node:http/https, the AWS SDK) are CLIENT spans that send
   * `traceparent`, as in production. Off by default: in a test process, the test's own HTTP calls are not the
   * function's.
   */
  traceOutgoing?: boolean;
}

export interface TestFunction {
  /** The Fastify instance, ready: `app.inject({ method, url, payload, headers })`. */
  app: FastifyInstance;
  /** Log lines written so far, parsed. */
  logs(): Array<Record<string, unknown>>;
  /** Spans ended so far. */
  spans(): ReadableSpan[];
  /** The drain: in-flight requests, the function's shutdown, the last spans. */
  close(): Promise<void>;
}

const SECRET_ID = 'test/secrets';

/**
 * Keeps spans as they end. (The SDK's SimpleSpanProcessor first waits for the resource detectors' asynchronous
 * attributes, so its spans arrive a little after the response.)
 */
export function spanRecorder(): { processor: SpanProcessor; spans(): ReadableSpan[] } {
  const ended: ReadableSpan[] = [];
  return {
    processor: { onStart: () => {}, onEnd: (span) => void ended.push(span), forceFlush: async () => {}, shutdown: async () => {} },
    spans: () => [...ended],
  };
}

export async function build(fn: FunctionModule, options: BuildOptions = {}): Promise<TestFunction> {
  const secrets = options.secrets;
  const config = loadConfig({
    PORT: '0',
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    ...(secrets ? { SECRETS: SECRET_ID, AWS_REGION: 'us-east-1' } : { SECRETS: '' }),
    ...options.env,
  }, fn.env);
  let output = '';
  const logDestination = new Writable({
    write(chunk, _encoding, done) {
      output += String(chunk);
      done();
    },
  });
  const recorder = spanRecorder();
  const runtime = await createRuntime(config, fn, {
    logDestination,
    spanProcessors: [recorder.processor],
    // Requests come through app.inject(); the function's own instrumentations are on, the defaults only if asked.
    defaultInstrumentations: options.traceOutgoing === true,
    fetcher: { fetch: async () => ({ secretString: JSON.stringify(secrets ?? {}) }) },
  });
  await runtime.secretsLoaded;
  await runtime.init();
  return {
    app: runtime.app,
    logs: () =>
      output
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    spans: recorder.spans,
    close: () => runtime.close(),
  };
}

/**
 * Checks every schema of the function's routes against the JSON Schema meta-schema (the runtime skips that check at
 * start-up: it costs the cold start the meta-schema's compilation). Returns how many schemas were checked and one
 * line per invalid schema ("POST /x body: data/properties/n/maxLength must be >= 0").
 */
export async function checkRouteSchemas(fn: FunctionModule): Promise<{ checked: number; invalid: string[] }> {
  const { Ajv } = await import('ajv');
  const ajv = new Ajv({ strict: false });
  const found: Array<[string, unknown]> = [];
  const collect = (route: RouteOptions) => {
    if (route.method === 'HEAD') return; // the HEAD twin of a GET route has the GET's schemas
    for (const [part, value] of Object.entries(route.schema ?? {})) {
      if (part === 'response') {
        for (const [status, response] of Object.entries(value as Record<string, unknown>)) found.push([`${route.method} ${route.url} response ${status}`, response]);
      } else {
        found.push([`${route.method} ${route.url} ${part}`, value]);
      }
    }
  };
  const routes = fn.routes;
  // Only the routes are registered (no init, no shutdown), under a hook that sees each route's schemas.
  const test = await build({
    handler: fn.handler,
    routes: async (app) => {
      app.addHook('onRoute', collect);
      if (routes) await app.register(routes);
    },
  });
  await test.close();
  const invalid = found.filter(([, schema]) => !ajv.validateSchema(schema as object)).map(([name, schema]) => {
    ajv.validateSchema(schema as object);
    return `${name}: ${ajv.errorsText(ajv.errors)}`;
  });
  return { checked: found.length, invalid };
}
