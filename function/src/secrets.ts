/**
 * Secrets from AWS Secrets Manager: read once before the server reports ready, cached in memory, refreshed in the
 * background on a TTL. Values live only in this object: never in env vars, logs, spans, metrics or error bodies.
 */
import { context, ROOT_CONTEXT, SpanStatusCode, trace, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { inspect } from 'node:util';
import { SECRETS_STARTUP_DEADLINE_MS } from './config.js';

export type SecretValues = Readonly<Record<string, string>>;

/** Errors after which retrying cannot help: startup fails closed on them. */
export const FATAL_ERRORS = [
  'ResourceNotFoundException',
  'AccessDeniedException',
  'DecryptionFailure',
  'InvalidRequestException',
  'InvalidParameterException',
] as const;

export class SecretLoadError extends Error {
  constructor(
    readonly secretId: string,
    /** The AWS error name (or network/timeout class); never any part of a secret value. */
    readonly errorClass: string,
    readonly hint: string,
    readonly requestId?: string,
  ) {
    super(`secret ${JSON.stringify(secretId)} could not be loaded: ${errorClass}${hint ? ` (${hint})` : ''}`);
    this.name = 'SecretLoadError';
  }
}

export interface SecretStoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface SecretStoreOptions {
  ids: readonly string[];
  region: string | undefined;
  refreshSeconds: number;
  logger: SecretStoreLogger;
  tracer?: Tracer;
  /** Called after each background refresh, for the refresh metrics. */
  onRefresh?: (result: 'success' | 'failure', at: Date) => void;
  startupDeadlineMs?: number;
  /** Where the values come from; Secrets Manager when not given (tests give their own). */
  fetcher?: Fetcher;
}

export interface Fetcher {
  fetch(id: string, signal: AbortSignal): Promise<{ secretString: string | undefined }>;
}

const HINTS: Record<string, string> = {
  ResourceNotFoundException: 'check the secret id in SECRETS and the region in AWS_REGION',
  AccessDeniedException: "the function's IAM role needs secretsmanager:GetSecretValue on this secret",
  DecryptionFailure: "the function's IAM role needs kms:Decrypt on the secret's KMS key via Secrets Manager",
  InvalidRequestException: 'the secret may be scheduled for deletion; restore it or remove it from SECRETS',
  InvalidParameterException: 'check the secret id format in SECRETS',
  TimeoutError: 'Secrets Manager did not answer in time; check network egress to the endpoint',
  EndpointUnreachable: 'Secrets Manager could not be reached; check AWS_ENDPOINT_URL_SECRETS_MANAGER, DNS and egress',
  CredentialsProviderError: 'no AWS credentials: in the cluster check the Pod Identity association of the service account',
  NotJsonObject: 'the SecretString must be a JSON object whose keys become secrets',
  NoSecretString: 'binary secrets are not supported; store a JSON object in SecretString',
};

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** Maps an SDK or network error to a stable class name, reading only error metadata (never messages with data). */
export function classify(err: unknown, id: string, timedOut: boolean): SecretLoadError {
  if (err instanceof SecretLoadError) return err;
  const e = (err ?? {}) as { name?: string; code?: string; $metadata?: { requestId?: string }; cause?: unknown };
  const code = e.code ?? (e.cause as { code?: string } | undefined)?.code;
  let errorClass: string;
  if (timedOut || e.name === 'AbortError') errorClass = 'TimeoutError';
  else if (code && NETWORK_CODES.has(code)) errorClass = 'EndpointUnreachable';
  else if (e.name && e.name !== 'Error') errorClass = e.name;
  else errorClass = code ?? 'UnknownError';
  const detail = errorClass === 'EndpointUnreachable' && code ? `${code}; ` : '';
  return new SecretLoadError(id, errorClass, `${detail}${HINTS[errorClass] ?? 'see the AWS error name'}`, e.$metadata?.requestId);
}

/** Turns one SecretString into key/value pairs, rejecting anything but a JSON object (without echoing it). */
export function parseSecretString(id: string, secretString: string | undefined): Record<string, string> {
  if (secretString === undefined) throw new SecretLoadError(id, 'NoSecretString', HINTS.NoSecretString ?? '');
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    // The parser's message quotes the input: never let it out.
    throw new SecretLoadError(id, 'NotJsonObject', HINTS.NotJsonObject ?? '');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SecretLoadError(id, 'NotJsonObject', HINTS.NotJsonObject ?? '');
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    out[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

let clientModule: Promise<typeof import('@aws-sdk/client-secrets-manager')> | undefined;

/**
 * Starts loading the Secrets Manager client, so that it loads while telemetry does (runtime.ts). Loaded only when
 * SECRETS lists something: a function without secrets does not pay for the SDK at start-up.
 */
export function preloadSecretsClient(): void {
  clientModule ??= import('@aws-sdk/client-secrets-manager');
  clientModule.catch(() => {}); // a failure is reported by the load that awaits it
}

async function sdkFetcher(region: string | undefined): Promise<Fetcher> {
  preloadSecretsClient();
  const { SecretsManagerClient, GetSecretValueCommand } = await clientModule!;
  const client = new SecretsManagerClient({
    region,
    // Per attempt; the SDK's standard retry mode (3 attempts, AWS_MAX_ATTEMPTS) retries throttling and transient errors.
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 },
  });
  return {
    async fetch(id, signal) {
      const out = await client.send(new GetSecretValueCommand({ SecretId: id }), { abortSignal: signal });
      return { secretString: out.SecretString };
    },
  };
}

/**
 * The secrets and their refresh. Every field holding values or clients is a true private (#) field, and the store
 * serialises to the names of its secrets only: `log.info(app.secrets)`, `log.info({ store: app.secrets })`,
 * `JSON.stringify(app.secrets)` and `console.log(app.secrets)` never print a value.
 */
export class SecretStore {
  /** The secret ids (SECRETS): the store's only enumerable field, so the only one a logger merging it prints. */
  readonly ids: readonly string[];
  #values: SecretValues = Object.freeze({});
  #fetcher: Fetcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Bumped by startRefresh and stop: a refresh that was in flight at stop() does not schedule the next one. */
  #generation = 0;
  #refreshing = false;
  #loadedAt: Date | undefined;
  #startupSpan: SpanContext | undefined;
  readonly #options: SecretStoreOptions;

  constructor(options: SecretStoreOptions) {
    this.#options = options;
    this.#fetcher = options.fetcher;
    this.ids = options.ids;
  }

  /** The startup `secrets.load` span, linked from the first request's span. */
  get startupSpan(): SpanContext | undefined {
    return this.#startupSpan;
  }

  get loaded(): boolean {
    return this.#options.ids.length === 0 || this.#loadedAt !== undefined;
  }

  get(key: string): string | undefined {
    return Object.hasOwn(this.#values, key) ? this.#values[key] : undefined;
  }

  snapshot(): SecretValues {
    return this.#values;
  }

  /** What JSON.stringify and loggers print: secret ids and key names, never a value. */
  toJSON(): { ids: readonly string[]; keys: string[]; loaded: boolean } {
    return { ids: this.ids, keys: Object.keys(this.#values), loaded: this.loaded };
  }

  [inspect.custom](): string {
    return `SecretStore ${inspect(this.toJSON())}`;
  }

  /** Reads every secret once; throws SecretLoadError for the first one that fails. Bounded by the startup deadline. */
  async load(): Promise<void> {
    if (this.#options.ids.length === 0) return;
    const tracer = this.#options.tracer;
    const run = async (span?: Span) => {
      const deadlineMs = this.#options.startupDeadlineMs ?? SECRETS_STARTUP_DEADLINE_MS;
      try {
        this.#values = await this.fetchAll(deadlineMs);
        this.#loadedAt = new Date();
        span?.setAttribute('function.secrets.count', this.#options.ids.length);
      } catch (err) {
        const e = err as SecretLoadError;
        span?.setAttribute('error.type', e.errorClass);
        span?.setStatus({ code: SpanStatusCode.ERROR, message: e.errorClass });
        throw err;
      } finally {
        span?.end();
      }
    };
    if (!tracer) return run();
    const span = tracer.startSpan('secrets.load', { attributes: { 'function.secrets.count': this.#options.ids.length } });
    this.#startupSpan = span.spanContext();
    // Active while the secrets are read: the AWS SDK's instrumentation makes each GetSecretValue call its child.
    return context.with(trace.setSpan(context.active(), span), () => run(span));
  }

  private async fetchAll(deadlineMs: number): Promise<SecretValues> {
    this.#fetcher ??= await sdkFetcher(this.#options.region);
    const fetcher = this.#fetcher;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, deadlineMs);
    timer.unref();
    try {
      const parts = await Promise.all(
        this.#options.ids.map(async (id) => {
          try {
            const { secretString } = await fetcher.fetch(id, controller.signal);
            return parseSecretString(id, secretString);
          } catch (err) {
            throw classify(err, id, timedOut);
          }
        }),
      );
      const merged: Record<string, string> = {};
      parts.forEach((part, i) => {
        for (const key of Object.keys(part)) {
          if (Object.hasOwn(merged, key)) {
            this.#options.logger.warn({ key, secretId: this.#options.ids[i] }, 'secret key defined twice; the later secret in SECRETS wins');
          }
        }
        Object.assign(merged, part);
      });
      return Object.freeze(merged);
    } finally {
      clearTimeout(timer);
      if (!controller.signal.aborted) controller.abort();
    }
  }

  /** Re-reads the secrets every refreshSeconds (with jitter); a failed refresh keeps the last good values. */
  startRefresh(): void {
    const seconds = this.#options.refreshSeconds;
    if (this.#options.ids.length === 0 || seconds <= 0) return;
    this.stop();
    const generation = this.#generation;
    const schedule = () => {
      if (generation !== this.#generation) return; // stopped (or restarted) while a refresh was in flight
      const jitter = 1 + (Math.random() - 0.5) * 0.1;
      this.#timer = setTimeout(() => void this.refresh().finally(schedule), seconds * 1000 * jitter);
      this.#timer.unref();
    };
    schedule();
  }

  async refresh(): Promise<boolean> {
    if (this.#refreshing || this.#options.ids.length === 0) return false;
    this.#refreshing = true;
    // Its own trace, named: the AWS SDK's calls are its children rather than a nameless root trace every period.
    const span = this.#options.tracer?.startSpan('secrets.refresh', { root: true, attributes: { 'function.secrets.count': this.#options.ids.length } });
    try {
      this.#values = await (span ? context.with(trace.setSpan(ROOT_CONTEXT, span), () => this.fetchAll(SECRETS_STARTUP_DEADLINE_MS)) : this.fetchAll(SECRETS_STARTUP_DEADLINE_MS));
      this.#loadedAt = new Date();
      this.#options.onRefresh?.('success', this.#loadedAt);
      return true;
    } catch (err) {
      const e = err as SecretLoadError;
      span?.setAttribute('error.type', e.errorClass);
      span?.setStatus({ code: SpanStatusCode.ERROR, message: e.errorClass });
      this.#options.logger.warn(
        { secretId: e.secretId, errorClass: e.errorClass, requestId: e.requestId },
        `secret refresh failed (${e.errorClass}); keeping the last good values`,
      );
      this.#options.onRefresh?.('failure', new Date());
      return false;
    } finally {
      span?.end();
      this.#refreshing = false;
    }
  }

  /** Stops the background refresh, including the rescheduling after a refresh that is in flight now. */
  stop(): void {
    this.#generation += 1;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
