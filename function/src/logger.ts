/**
 * JSON logs to stdout (pino). Redaction is defence in depth: the platform never logs headers or secrets itself, but
 * user code that logs a request, an event or a context object does not leak credentials or secret values either.
 * Two passes: credential headers and `secrets` fields by path (pino's redact), and the secrets' values wherever they
 * appear in a line, whatever the field's name (redactSecretValues).
 */
import { isSpanContextValid, trace } from '@opentelemetry/api';
import type { FastifyBaseLogger } from 'fastify';
import { pino, type Bindings, type ChildLoggerOptions, type Logger, type LoggerOptions } from 'pino';
import type { LogLevel } from './config.js';

/** The sibling of a logger that writes the per-request access lines (see accessLogger). */
const ACCESS = Symbol('accessLogger');

/** Credential headers, wherever a request, a Lambda event or a bare headers object is logged. */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'x-api-key', 'x-amz-security-token'];

export const REDACT_PATHS = [
  ...['req.headers', 'headers', 'event.headers'].flatMap((at) => CREDENTIAL_HEADERS.map((h) => `${at}["${h}"]`)),
  'event.cookies',
  'res.headers["set-cookie"]',
  'secrets',
  '*.secrets',
];

/** The censor of both passes. */
export const REDACTED = '[Redacted]';
/**
 * Secret values shorter than this are not searched for in log lines: a value of a few characters ("1", "true") would
 * turn every line containing it to noise, and is no credential.
 */
export const MIN_REDACTED_VALUE_LENGTH = 6;

const VALUES = Symbol('secretValues');

interface ValueRedaction {
  source: (() => Readonly<Record<string, string>>) | undefined;
  /** The values object the needles were made from (the store replaces it on each load). */
  seen: object | undefined;
  needles: string[];
}

/** Each value as it appears in a JSON line (raw and JSON-escaped), longest first so that a value inside another goes whole. */
function needlesOf(values: Readonly<Record<string, string>>): string[] {
  const out = new Set<string>();
  for (const value of Object.values(values)) {
    if (value.length < MIN_REDACTED_VALUE_LENGTH) continue;
    out.add(value);
    out.add(JSON.stringify(value).slice(1, -1));
  }
  return [...out].sort((a, b) => b.length - a.length);
}

function scrub(line: string, r: ValueRedaction): string {
  if (r.source === undefined) return line;
  const values = r.source();
  if (values !== r.seen) {
    r.seen = values;
    r.needles = needlesOf(values);
  }
  for (const needle of r.needles) if (line.includes(needle)) line = line.replaceAll(needle, REDACTED);
  return line;
}

/**
 * From now on, every line of `logger` (and of its children) has each of these secret values replaced by
 * "[Redacted]", whatever the field holding it. `values` is read per line (cheap: the needles are rebuilt only when the
 * object changes), so rotated values are covered from their first use.
 */
export function redactSecretValues(logger: object, values: () => Readonly<Record<string, string>>): void {
  const r = (logger as { [VALUES]?: ValueRedaction })[VALUES];
  if (r === undefined) throw new Error('not a logger made by createLogger');
  r.source = values;
}

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

/** Bytes of lines stdout has not taken yet beyond which new lines are dropped (and counted) rather than buffered. */
export const LOG_BUFFER_MAX_BYTES = 16 * 1024 * 1024;

/** The asynchronous stdout destination, once created (see stdout() and logSynchronously()). */
let stdoutDestination: { sync: boolean } | undefined;

/**
 * stdout, written asynchronously: a line is handed to the destination's buffer and written by the next write(2),
 * which takes every line logged meanwhile. One synchronous write per access line cost a tenth of a request's CPU when
 * stdout is a pipe (as in a container). pino's destination writes what is buffered synchronously when the process
 * exits; from the drain on, every line is written synchronously (logSynchronously), so that a line logged just before
 * process.exit cannot be caught in an asynchronous write not done yet. Lines are lost only if the process is killed
 * (SIGKILL) with lines not yet written, or beyond LOG_BUFFER_MAX_BYTES held up by a stdout that does not read (each
 * such line is counted on stderr).
 */
function stdout(): pino.DestinationStream {
  const stream = pino.destination({ fd: 1, sync: false, minLength: 0, maxLength: LOG_BUFFER_MAX_BYTES });
  stdoutDestination = stream as unknown as { sync: boolean };
  let dropped = 0;
  (stream as unknown as NodeJS.EventEmitter).on('drop', () => {
    dropped += 1;
    if (dropped === 1 || dropped % 1000 === 0) {
      process.stderr.write(`${JSON.stringify({ level: 'error', time: new Date().toISOString(), dropped, msg: 'stdout is not reading: log lines dropped' })}\n`);
    }
  });
  return stream;
}

/**
 * From now on stdout is written synchronously (the drain calls this first): what is buffered goes with the next line,
 * and the process's last lines are on stdout before it exits. A no-op for loggers given their own destination.
 */
export function logSynchronously(): void {
  // pino's destination (SonicBoom) reads `sync` at each write.
  if (stdoutDestination) stdoutDestination.sync = true;
}

export function createLogger(level: LogLevel, base: Record<string, string>, destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base,
    messageKey: 'msg',
    timestamp: isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  const stream = destination ?? stdout();
  const values: ValueRedaction = { source: undefined, seen: undefined, needles: [] };
  const logger = pino(
    { ...options, mixin: traceIds, redact: { paths: REDACT_PATHS, censor: REDACTED }, hooks: { streamWrite: (line) => scrub(line, values) } },
    stream,
  );
  Object.defineProperty(logger, VALUES, { value: values });
  // Access lines hold only fields the platform chose (ids, method, route, status, timing): no redaction pass over
  // each one, which cost as much as the rest of the line.
  Object.defineProperty(logger, ACCESS, { value: pino(options, stream) });
  return logger;
}

/** The logger for per-request access lines: same stream, level and base fields, without redaction or mixin. */
export function accessLogger(logger: object): Logger | undefined {
  return (logger as { [ACCESS]?: Logger })[ACCESS];
}

/**
 * `request.log` (also `reply.log` and a Lambda handler's `context.logger`): the request's pino child logger, bound to
 * its request id, created the first time a line is logged or a member other than the level is used. Most requests log
 * nothing beyond their access line, and a pino child per request cost 4 % of the CPU.
 * The members used most (and the ones Fastify checks on every request) are methods of this class: reading them costs
 * what reading any method does. Every other member of pino's logger (levels, msgPrefix, onChild, custom levels...)
 * comes from the child through the class prototype's own prototype, a proxy reached only for those.
 */
class RequestLogger {
  readonly #parent: Logger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;
  #child: Logger | undefined;

  constructor(parent: Logger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  /** The pino child, created on first use. */
  static real(logger: RequestLogger): Logger {
    logger.#child ??= logger.#parent.child(logger.#bindings, logger.#options);
    return logger.#child;
  }

  /** The child if it exists, else the parent (whose level and shape the child would have). */
  static current(logger: RequestLogger): Logger {
    return logger.#child ?? logger.#parent;
  }

  static is(value: object): value is RequestLogger {
    return #parent in value;
  }

  get level(): string {
    return RequestLogger.current(this).level;
  }
  set level(level: string) {
    RequestLogger.real(this).level = level;
  }
  isLevelEnabled(level: string): boolean {
    return RequestLogger.current(this).isLevelEnabled(level);
  }
  fatal(...args: unknown[]): void {
    (RequestLogger.real(this).fatal as Call)(...args);
  }
  error(...args: unknown[]): void {
    (RequestLogger.real(this).error as Call)(...args);
  }
  warn(...args: unknown[]): void {
    (RequestLogger.real(this).warn as Call)(...args);
  }
  info(...args: unknown[]): void {
    (RequestLogger.real(this).info as Call)(...args);
  }
  debug(...args: unknown[]): void {
    (RequestLogger.real(this).debug as Call)(...args);
  }
  trace(...args: unknown[]): void {
    (RequestLogger.real(this).trace as Call)(...args);
  }
  silent(...args: unknown[]): void {
    (RequestLogger.real(this).silent as Call)(...args);
  }
  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return RequestLogger.real(this).child(bindings, options);
  }
  bindings(): Bindings {
    return RequestLogger.real(this).bindings();
  }
  setBindings(bindings: Bindings): void {
    RequestLogger.real(this).setBindings(bindings);
  }
  flush(cb?: (err?: Error) => void): void {
    RequestLogger.real(this).flush(cb);
  }
}

type Call = (...args: unknown[]) => void;

/** A logger of the same shape as the request loggers' parent, for `in` checks (a proxy's `has` gets no receiver). */
let shape: object = {};

Object.setPrototypeOf(
  RequestLogger.prototype,
  new Proxy(Object.create(null) as object, {
    get(_target, property, receiver: object) {
      if (!RequestLogger.is(receiver)) return undefined;
      // Serialising or awaiting a request logger does not create its child.
      if (property === 'toJSON' || property === 'then' || typeof property === 'symbol') {
        return Reflect.get(RequestLogger.current(receiver), property);
      }
      const real = RequestLogger.real(receiver);
      const value: unknown = Reflect.get(real, property, real);
      return typeof value === 'function' ? (value as Call).bind(real) : value;
    },
    has: (_target, property) => Reflect.has(shape, property),
  }),
);

/** Fastify's childLoggerFactory: request loggers that cost nothing until a line is logged through them. */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  shape = logger;
  return new RequestLogger(logger as unknown as Logger, bindings, options) as unknown as FastifyBaseLogger;
}
