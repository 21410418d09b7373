/**
 * The function's configuration: one JSON schema of the runtime's environment, validated once at boot with Ajv set
 * as env-schema sets it (coercion, defaults, unknown names dropped), typed from the same schema. Handlers never read
 * process.env: they read `app.config`. env-schema itself is not imported: its import compiles the JSON Schema
 * meta-schema on the cold-start path; make test checks the schema against the meta-schema and env-schema's verdicts
 * against these instead (function/test/config.test.ts).
 * The author's module may add its own variables (`export const env = { NAME: { type: 'string' } }`), validated here
 * with the runtime's and typed on `app.config` through the `FunctionEnv` interface.
 * OTEL_* variables are not here: the OpenTelemetry SDK reads them. Ports and probe paths the chart shares come from
 * chart/files/contract.json.
 */
import { Ajv } from 'ajv';
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import contract from '../../chart/files/contract.json' with { type: 'json' };

export const CONTRACT = contract;

export const DEFAULT_PORT = contract.ports.http;
export const DEFAULT_METRICS_PORT = contract.ports.metrics;
/** Fastify's own default, made explicit: bodies above it get 413. */
export const DEFAULT_BODY_LIMIT_BYTES = 1_048_576;
/** Knative's default revision timeoutSeconds. */
export const DEFAULT_REQUEST_TIMEOUT_SECONDS = 300;
/** Time allowed to finish in-flight requests and flush telemetry after SIGTERM, before a forced exit 1. */
export const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 30;
/** How often cached secrets are re-read (the Secrets Manager Agent's default TTL). 0 turns refresh off. */
export const DEFAULT_SECRETS_REFRESH_SECONDS = 300;
/** Above queue-proxy's 90 s idle-connection reuse, so it never writes to a socket we are closing. */
export const KEEP_ALIVE_TIMEOUT_MS = 95_000;
/** Start-up gives up on Secrets Manager after this long, so a failing pod exits within 10 s even on a slow node. */
export const SECRETS_STARTUP_DEADLINE_MS = 6_000;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const port = (fallback: number, description: string) =>
  ({ type: 'integer', minimum: 0, maximum: 65_535, default: fallback, description }) as const;
const seconds = (min: number, max: number, fallback: number, description: string) =>
  ({ type: 'integer', minimum: min, maximum: max, default: fallback, description }) as const;

/**
 * The runtime's environment. Each property's `description` is its README row (scripts/config-table.ts prints the
 * table; a test holds the README to it). `title` is what a bad value is told it must be.
 */
export const RUNTIME_ENV = {
  PORT: port(
    DEFAULT_PORT,
    "public HTTP port (Knative sets it); queue-proxy's ports " + contract.reservedPorts.join(', ') + ' are refused',
  ),
  METRICS_PORT: port(DEFAULT_METRICS_PORT, 'Prometheus `/metrics`; served **only** here, never on `PORT`'),
  HOST: {
    type: 'string',
    default: '0.0.0.0',
    description: 'address both ports bind; `make dev` sets `127.0.0.1` (in a pod queue-proxy dials 127.0.0.1, the kubelet and Prometheus the pod IP)',
  },
  AWS_REGION: {
    type: 'string',
    pattern: '^[a-z]{2}(-[a-z]+)+-\\d+$',
    title: 'an AWS region such as eu-west-1',
    description: 'required when `SECRETS` is set (`AWS_DEFAULT_REGION` is the fallback)',
  },
  AWS_DEFAULT_REGION: { type: 'string', description: 'read when `AWS_REGION` is unset, as the AWS SDK does' },
  SECRETS: {
    type: 'string',
    default: '',
    description:
      'comma-separated Secrets Manager secret names or ARNs; each `SecretString` is a JSON object whose keys become secrets (later ids win on a clash). Empty: no secrets, and the AWS SDK is not even loaded',
  },
  SECRETS_REFRESH_SECONDS: seconds(
    0,
    86_400,
    DEFAULT_SECRETS_REFRESH_SECONDS,
    'background refresh TTL: rotation is picked up without a restart; a failed refresh keeps the last good values. `0` turns refresh off',
  ),
  LOG_LEVEL: { type: 'string', enum: LOG_LEVELS, default: 'info', description: 'pino level (any case)' },
  BODY_LIMIT_BYTES: seconds(1, 104_857_600, DEFAULT_BODY_LIMIT_BYTES, 'larger bodies get 413'),
  REQUEST_TIMEOUT_SECONDS: seconds(
    1,
    3_600,
    DEFAULT_REQUEST_TIMEOUT_SECONDS,
    "the revision's `timeoutSeconds`; the Lambda context's remaining time counts down from it",
  ),
  SHUTDOWN_TIMEOUT_SECONDS: seconds(
    1,
    3_600,
    DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
    'drain deadline after SIGTERM; past it (or on a second SIGTERM) the process exits 1',
  ),
  K_SERVICE: { type: 'string', default: 'function', description: "Knative's Service name (`service.name` of the spans, the logs' `service`)" },
  K_REVISION: { type: 'string', default: 'local', description: "Knative's Revision name (`service.version`, the logs' `revision`)" },
  K_CONFIGURATION: { type: 'string', description: "Knative's Configuration name, when present" },
} as const satisfies Record<string, JSONSchema>;

/** The validated runtime environment, typed from RUNTIME_ENV. */
export type RuntimeEnv = FromSchema<{ type: 'object'; properties: typeof RUNTIME_ENV; additionalProperties: false }>;

/** A function's own variables (its module's `env` export): JSON-schema properties, as RUNTIME_ENV's. */
export type EnvProperties = Record<string, JSONSchema>;

/** The values of a function's `env` export, typed: `interface FunctionEnv extends EnvOf<typeof env> {}`. */
export type EnvOf<P extends EnvProperties> = FromSchema<{ type: 'object'; properties: P; additionalProperties: false }>;

declare module 'fastify' {
  /**
   * The author's variables on `app.config`: augment it with the function's `env` export,
   * `declare module 'fastify' { interface FunctionEnv extends EnvOf<typeof env> {} }`.
   */
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface FunctionEnv {}
}

export interface Config {
  port: number;
  metricsPort: number;
  host: string;
  region: string | undefined;
  secretIds: string[];
  secretsRefreshSeconds: number;
  logLevel: LogLevel;
  bodyLimitBytes: number;
  requestTimeoutSeconds: number;
  shutdownTimeoutSeconds: number;
  /** Knative's K_SERVICE / K_REVISION / K_CONFIGURATION: optional outside a cluster. */
  service: string;
  revision: string;
  configuration: string | undefined;
  /** Every validated variable by name, the runtime's and the function's own: what `app.config` is. */
  env: RuntimeEnv & import('fastify').FunctionEnv;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`invalid configuration: ${variable} ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * env-schema's Ajv options (env-schema/index.js getDefaultInstance: coercion, defaults), made cheaper to start: the
 * schema itself is not validated (no meta-schema), the first error is enough, and the generated code is not
 * optimised. Names outside the schema are never passed in, so nothing needs removing.
 */
export const AJV_OPTIONS = {
  allErrors: false,
  useDefaults: true,
  coerceTypes: true,
  allowUnionTypes: true,
  addUsedSchema: false,
  validateSchema: false,
  code: { optimize: false },
  meta: false,
} as const;

const SECRET_ID = /^[A-Za-z0-9/_+=.@:-]{1,2048}$/;

type Property = { type?: unknown; enum?: readonly unknown[]; minimum?: number; maximum?: number; title?: string; pattern?: string };

/** What a variable must be, in words, from its schema. */
function expectation(p: Property): string {
  if (p.title) return p.title;
  if (p.enum) return `one of ${p.enum.join(', ')}`;
  if (p.type === 'integer') return `a whole number from ${p.minimum ?? '-∞'} to ${p.maximum ?? '∞'}`;
  if (p.type === 'number') return `a number from ${p.minimum ?? '-∞'} to ${p.maximum ?? '∞'}`;
  if (p.type === 'boolean') return 'true or false';
  if (p.pattern) return `a string matching ${p.pattern}`;
  return `a valid ${String(p.type ?? 'value')}`;
}

const shown = (raw: string): string => (/^\d+$/.test(raw) ? raw : JSON.stringify(raw));

/**
 * Parses and validates the whole configuration: the runtime's variables and, when given, the function's own `env`
 * properties. Throws ConfigError naming the first bad variable. Empty values count as unset (the default applies).
 */
export function loadConfig(env: Env = process.env, functionEnv: EnvProperties = {}): Config {
  for (const name of Object.keys(functionEnv)) {
    if (name in RUNTIME_ENV || name.startsWith('OTEL_')) {
      throw new ConfigError(name, "is the runtime's own (or the OpenTelemetry SDK's): choose another name for the function's variable");
    }
  }
  const properties: Record<string, JSONSchema> = { ...RUNTIME_ENV, ...functionEnv };
  // Only the schema's names, trimmed; an empty value is no value (as Kubernetes and shells write "unset").
  const data: Record<string, string> = {};
  for (const name of Object.keys(properties)) {
    const value = env[name]?.trim();
    if (value) data[name] = value;
  }
  if (data.LOG_LEVEL) data.LOG_LEVEL = data.LOG_LEVEL.toLowerCase();

  let values: Record<string, unknown>;
  try {
    const check = new Ajv(AJV_OPTIONS).compile({ type: 'object', properties });
    values = { ...data };
    if (!check(values)) throw Object.assign(new Error('invalid environment'), { errors: check.errors });
  } catch (err) {
    const first = (err as { errors?: Array<{ instancePath: string }> }).errors?.[0];
    const name = first?.instancePath.replace(/^\//, '');
    if (!name) throw err;
    throw new ConfigError(name, `must be ${expectation(properties[name] as Property)} (got ${shown(data[name] ?? '')})`);
  }
  const v = values as RuntimeEnv;

  for (const name of ['PORT', 'METRICS_PORT'] as const) {
    const p = v[name];
    if (p !== 0 && contract.reservedPorts.includes(p)) {
      throw new ConfigError(name, `must not be ${p}: Knative's queue-proxy reserves ${contract.reservedPorts.join(', ')} in the pod`);
    }
  }
  if (v.PORT !== 0 && v.PORT === v.METRICS_PORT) {
    throw new ConfigError('METRICS_PORT', `must differ from PORT (${v.PORT}): /metrics is never served on the public port`);
  }

  const secretIds = [
    ...new Set(
      v.SECRETS.split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    ),
  ];
  for (const id of secretIds) {
    if (!SECRET_ID.test(id)) {
      throw new ConfigError('SECRETS', `has an invalid secret id ${JSON.stringify(id)}: use a name or ARN of letters, digits and /_+=.@:- (max 2048)`);
    }
  }
  const region = v.AWS_REGION ?? v.AWS_DEFAULT_REGION;
  if (secretIds.length > 0 && !region) {
    throw new ConfigError('AWS_REGION', 'must be set when SECRETS lists secrets (e.g. AWS_REGION=eu-west-1)');
  }
  if (v.AWS_REGION === undefined && region !== undefined && !new RegExp(RUNTIME_ENV.AWS_REGION.pattern).test(region)) {
    throw new ConfigError('AWS_DEFAULT_REGION', `must be ${RUNTIME_ENV.AWS_REGION.title} (got ${JSON.stringify(region)})`);
  }

  return {
    port: v.PORT,
    metricsPort: v.METRICS_PORT,
    host: v.HOST,
    region,
    secretIds,
    secretsRefreshSeconds: v.SECRETS_REFRESH_SECONDS,
    logLevel: v.LOG_LEVEL,
    bodyLimitBytes: v.BODY_LIMIT_BYTES,
    requestTimeoutSeconds: v.REQUEST_TIMEOUT_SECONDS,
    shutdownTimeoutSeconds: v.SHUTDOWN_TIMEOUT_SECONDS,
    service: v.K_SERVICE,
    revision: v.K_REVISION,
    configuration: v.K_CONFIGURATION,
    env: values as unknown as Config['env'],
  };
}
