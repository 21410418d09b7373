/**
 * JSON logs to stdout (pino). Redaction is defence in depth: the platform never logs headers or secrets itself, but
 * user code that logs a request, an event or a context object does not leak credentials or secret values either.
 */
import { isSpanContextValid, trace } from '@opentelemetry/api';
import type { FastifyBaseLogger } from 'fastify';
import { pino, type Bindings, type ChildLoggerOptions, type Logger, type LoggerOptions } from 'pino';
import type { LogLevel } from './config.js';

/** The sibling of a logger that writes the per-request access lines (see accessLogger). */
const ACCESS = Symbol('accessLogger');

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-amz-security-token"]',
  'headers.authorization',
  'headers.cookie',
  'event.headers.authorization',
  'event.headers.cookie',
  'event.cookies',
  'res.headers["set-cookie"]',
  'secrets',
  '*.secrets',
  'SIGNING_KEY',
  '*.SIGNING_KEY',
];

/** Trace and span ids of the active span, on every line logged inside a traced request (handlers, user code). */
function traceIds(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const sc = span.spanContext();
  return isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

let stampedAt = 0;
let stamp = '';
/** pino's ISO-8601 `time` field, formatted once per millisecond rather than once per line. */
function isoTime(): string {
  const now = Date.now();
  if (now !== stampedAt) {
    stampedAt = now;
    stamp = `,"time":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}

export function createLogger(level: LogLevel, base: Record<string, string>, destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base,
    messageKey: 'msg',
    timestamp: isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  const stream = destination ?? pino.destination({ fd: 1, sync: true });
  const logger = pino({ ...options, mixin: traceIds, redact: { paths: REDACT_PATHS, censor: '[Redacted]' } }, stream);
  // Access lines hold only fields the platform chose (ids, method, route, status, timing): no redaction pass over
  // each one, which cost as much as the rest of the line.
  Object.defineProperty(logger, ACCESS, { value: pino(options, stream) });
  return logger;
}

/** The logger for per-request access lines: same stream, level and base fields, without redaction or mixin. */
export function accessLogger(logger: object): Logger | undefined {
  return (logger as { [ACCESS]?: Logger })[ACCESS];
}

type LevelMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
type Call = (...args: unknown[]) => void;

/**
 * `request.log`: the request's child logger (bound to its request id), created the first time it is used. Most
 * requests log nothing beyond their access line, and creating a pino child per request cost 4 % of the CPU.
 */
class RequestLogger {
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  #logger(): Record<LevelMethod, Call> & FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options);
    return this.#child as Record<LevelMethod, Call> & FastifyBaseLogger;
  }

  get level(): string {
    return this.#logger().level;
  }
  set level(level: string) {
    this.#logger().level = level;
  }
  fatal(...args: unknown[]): void {
    this.#logger().fatal(...args);
  }
  error(...args: unknown[]): void {
    this.#logger().error(...args);
  }
  warn(...args: unknown[]): void {
    this.#logger().warn(...args);
  }
  info(...args: unknown[]): void {
    this.#logger().info(...args);
  }
  debug(...args: unknown[]): void {
    this.#logger().debug(...args);
  }
  trace(...args: unknown[]): void {
    this.#logger().trace(...args);
  }
  silent(...args: unknown[]): void {
    this.#logger().silent(...args);
  }
  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#logger().child(bindings, options);
  }
}

/** Fastify's childLoggerFactory: request loggers that cost nothing until a line is logged through them. */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new RequestLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}
