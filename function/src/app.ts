/**
 * The application as a Fastify plugin: everything the function needs to serve, and nothing about ports or signals
 * (server.ts owns those). Tests build it with buildApp() and close it in teardown.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify';
import { randomUUID } from 'node:crypto';
import { DEFAULT_BODY_LIMIT_BYTES, KEEP_ALIVE_TIMEOUT_MS, type Config } from './config.js';
import { lambdaPlugin } from './lambda.js';
import { lazyChildLogger } from './logger.js';
import type { Metrics } from './metrics.js';
import health, { type Lifecycle } from './plugins/health.js';
import observe from './plugins/observe.js';
import security from './plugins/security.js';
import type { SecretStore } from './secrets.js';
import type { Startup } from './startup.js';
import type { Telemetry } from './telemetry.js';
import type { FunctionModule } from './api.js';

export interface AppOptions {
  config: Config;
  secrets: SecretStore;
  telemetry: Telemetry;
  metrics: Metrics;
  startup: Startup;
  lifecycle: Lifecycle;
  /** The author's function (the build's FUNCTION, or a test's fixture). */
  fn: FunctionModule;
}

/** Fastify settings for production behind Knative's queue-proxy. */
export function serverOptions(config: Config, logger: FastifyBaseLogger): FastifyServerOptions & { loggerInstance: FastifyBaseLogger } {
  return {
    loggerInstance: logger,
    // observe.ts writes one line per request, with trace ids; probes are not logged at all.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    genReqId: () => randomUUID(),
    childLoggerFactory: lazyChildLogger,
    // Only queue-proxy (same pod, loopback) may set X-Forwarded-*: the pod IP is reachable without it.
    trustProxy: 'loopback',
    bodyLimit: config.bodyLimitBytes,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // validateSchema: false: checking each route schema against the JSON Schema meta-schema compiles that
    // meta-schema first, 6 % of the cold start's CPU. make test checks every route schema against it instead
    // (function/test/schemas.test.ts); at start-up ajv still rejects unknown keywords and mistyped keyword values.
    ajv: { customOptions: { coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false, validateSchema: false } },
  };
}

const app: FastifyPluginAsync<AppOptions> = async (fastify, opts) => {
  const { config, secrets, telemetry, metrics, startup, lifecycle } = opts;
  const { fn } = opts;
  if (!fn.routes && !fn.handler) {
    throw new Error('the function module must export `routes` (a Fastify plugin) or `handler` (a Lambda handler)');
  }

  fastify.decorate('secrets', secrets);
  fastify.decorate('knative', { service: config.service, revision: config.revision });
  fastify.decorate('config', config.env);

  await fastify.register(observe, { telemetry, metrics, startup, startupSpan: () => secrets.startupSpan });
  await fastify.register(security);
  await fastify.register(health, { lifecycle });
  // While draining, every response closes its connection: keep-alive sockets do not hold the exit back.
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (lifecycle.draining) reply.header('connection', 'close');
    done(null, payload);
  });

  if (fn.routes) await fastify.register(fn.routes);
  if (fn.handler) {
    await fastify.register(lambdaPlugin, {
      handler: fn.handler,
      secrets,
      functionName: config.service,
      functionVersion: config.revision,
      requestTimeoutSeconds: config.requestTimeoutSeconds,
      region: config.region,
      secretIds: config.secretIds,
      // Lambda's 6 MB payload limit unless BODY_LIMIT_BYTES is set to something else than its default.
      bodyLimitBytes: config.bodyLimitBytes === DEFAULT_BODY_LIMIT_BYTES ? undefined : config.bodyLimitBytes,
    });
  }
};

export default app;

/** Builds a ready (not listening) Fastify instance with the application registered. */
export async function buildApp(opts: AppOptions & { logger: FastifyBaseLogger }): Promise<FastifyInstance> {
  const fastify = Fastify(serverOptions(opts.config, opts.logger));
  await fastify.register(app, opts);
  await fastify.ready();
  return fastify;
}
