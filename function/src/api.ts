/**
 * The public module for function authors, and the only runtime module an author's function imports:
 * `import { rawJsonBody, errorBodySchema, type FunctionModule } from 'knative-fn'` (the package's own name, resolved
 * through package.json "exports" by tsc, Node and esbuild alike).
 *
 * A function is a folder whose index.ts exports (see function/example/ and the README's "write your function"):
 * - `routes`: a Fastify plugin declaring routes; and/or
 * - `handler`: an AWS Lambda handler for API Gateway HTTP API (payload format 2.0), run unchanged.
 *   With both, `routes` are matched first and `handler` serves every other path.
 * - `init(ctx)` (optional): awaited after the secrets are loaded and before readiness turns 200 (warm connections,
 *   load models). A failure stops the process (exit 1) and says why.
 * - `shutdown()` (optional): awaited during the drain, after the in-flight requests finished and before the metrics
 *   server closes and the last spans are flushed; bounded by SHUTDOWN_TIMEOUT_SECONDS.
 *
 * Everything else (secrets, metrics, traces, health, drain, hardening) is the runtime's.
 */
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import type { Config, EnvProperties } from './config.ts';
import type { LambdaHandler } from './types.ts';

export { errorBodySchema, type ErrorBody } from './errors.ts';
export type { EnvOf, EnvProperties, RuntimeEnv } from './config.ts';
export { rawJsonBody } from './plugins/json-body.ts';
export type {
  APIGatewayProxyEventV2,
  APIGatewayProxyHandlerV2,
  APIGatewayProxyResultV2,
  APIGatewayProxyStructuredResultV2,
  Callback,
  Context,
  FunctionContext,
  Handler,
  LambdaHandler,
} from './types.ts';

/** The secrets read from Secrets Manager (SECRETS), always current: `secrets.get('API_TOKEN')`. */
export interface Secrets {
  get(key: string): string | undefined;
}

/** The Knative identity of the running revision. */
export interface Knative {
  /** K_SERVICE */
  service: string;
  /** K_REVISION */
  revision: string;
}

/** What `init` receives. */
export interface InitContext {
  /** The runtime's configuration, read from the environment at start-up. */
  readonly config: Readonly<Config>;
  /** The secrets, already loaded. */
  readonly secrets: Secrets;
  /** The function's logger (JSON lines on stdout, secret values redacted). */
  readonly logger: FastifyBaseLogger;
}

/** What a function module (`<FUNCTION>/index.ts`) may export. At least `routes` or `handler`. */
export interface FunctionModule {
  routes?: FastifyPluginAsync;
  handler?: LambdaHandler;
  init?: (ctx: InitContext) => void | Promise<void>;
  shutdown?: () => void | Promise<void>;
  /**
   * OpenTelemetry instrumentations added to the defaults (outgoing HTTP, fetch, the AWS SDK), e.g.
   * `export const instrumentations = [new PgInstrumentation()]`. The build patches the packages they name inside the
   * bundle: no require hook.
   */
  instrumentations?: Instrumentation[];
  /**
   * The function's own environment variables, as JSON-schema properties (`{ GREETING: { type: 'string', default:
   * 'Hello' } } as const`): validated with the runtime's at start-up (a bad value stops it, naming the variable) and
   * read as `app.config.GREETING`. Type them with `interface FunctionEnv extends EnvOf<typeof env> {}` in
   * `declare module 'fastify'`. Their values come from the function's values file (`function.env`).
   */
  env?: EnvProperties;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Secrets from Secrets Manager: `app.secrets.get('NAME')`. Always current (refreshed in the background). */
    secrets: Secrets;
    /** Knative identity of this revision (K_SERVICE, K_REVISION). */
    knative: Knative;
    /** The validated environment by name: the runtime's variables and the function's own `env` (config.ts). */
    config: Config['env'];
  }
  interface FastifyRequest {
    /** True for the first request this process serves (the one that woke it from zero: a cold start). */
    firstRequest: boolean;
  }
}
