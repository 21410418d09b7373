/**
 * The function's configuration: one schema, validated once at boot. Handlers never read process.env.
 * Names, ports and probe paths come from function/contract.json, the one home the chart and the local stack share.
 */
import contract from '../contract.json' with { type: 'json' };

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

const SECRET_ID = /^[A-Za-z0-9/_+=.@:-]{1,2048}$/;

function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = raw.trim();
  if (!/^\d+$/.test(value)) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`);
  }
  const n = Number(value);
  if (n < min || n > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got ${n})`);
  }
  return n;
}

function readPort(env: Env, name: string, fallback: number): number {
  const port = readInt(env, name, fallback, 0, 65_535);
  if (port !== 0 && contract.reservedPorts.includes(port)) {
    throw new ConfigError(
      name,
      `must not be ${port}: Knative's queue-proxy reserves ${contract.reservedPorts.join(', ')} in the pod`,
    );
  }
  return port;
}

function readSecretIds(env: Env): string[] {
  const raw = env[contract.env.secrets] ?? '';
  const ids = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const id of ids) {
    if (!SECRET_ID.test(id)) {
      throw new ConfigError(
        contract.env.secrets,
        `has an invalid secret id ${JSON.stringify(id)}: use a name or ARN of letters, digits and /_+=.@:- (max 2048)`,
      );
    }
  }
  return [...new Set(ids)];
}

/** Parses and validates the whole configuration; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const port = readPort(env, contract.env.port, DEFAULT_PORT);
  const metricsPort = readPort(env, contract.env.metricsPort, DEFAULT_METRICS_PORT);
  if (port !== 0 && port === metricsPort) {
    throw new ConfigError(contract.env.metricsPort, `must differ from ${contract.env.port} (${port}): /metrics is never served on the public port`);
  }

  const secretIds = readSecretIds(env);
  const region = env[contract.env.region]?.trim() || env.AWS_DEFAULT_REGION?.trim() || undefined;
  if (secretIds.length > 0 && !region) {
    throw new ConfigError(contract.env.region, `must be set when ${contract.env.secrets} lists secrets (e.g. AWS_REGION=eu-west-1)`);
  }
  if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw new ConfigError(contract.env.region, `must be an AWS region such as eu-west-1 (got ${JSON.stringify(region)})`);
  }

  const rawLevel = (env[contract.env.logLevel] ?? '').trim().toLowerCase() || 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(rawLevel)) {
    throw new ConfigError(contract.env.logLevel, `must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(rawLevel)})`);
  }

  return {
    port,
    metricsPort,
    host: '0.0.0.0',
    region,
    secretIds,
    secretsRefreshSeconds: readInt(env, contract.env.secretsRefreshSeconds, DEFAULT_SECRETS_REFRESH_SECONDS, 0, 86_400),
    logLevel: rawLevel as LogLevel,
    bodyLimitBytes: readInt(env, contract.env.bodyLimitBytes, DEFAULT_BODY_LIMIT_BYTES, 1, 104_857_600),
    requestTimeoutSeconds: readInt(env, contract.env.requestTimeoutSeconds, DEFAULT_REQUEST_TIMEOUT_SECONDS, 1, 3_600),
    shutdownTimeoutSeconds: readInt(env, contract.env.shutdownTimeoutSeconds, DEFAULT_SHUTDOWN_TIMEOUT_SECONDS, 1, 3_600),
    service: env.K_SERVICE?.trim() || 'function',
    revision: env.K_REVISION?.trim() || 'local',
    configuration: env.K_CONFIGURATION?.trim() || undefined,
  };
}
