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

/** Through a request logger's proxy: the pino child (created on demand), or the parent while there is no child. */
const CHILD = Symbol('child');
const CURRENT = Symbol('current');
type Forwarder = (this: Record<symbol, Record<string, (...args: unknown[]) => unknown>>, ...args: unknown[]) => unknown;
/**
 * The methods Fastify reads from every request logger (it checks them each request) and the ones used most, shared by
 * all requests: reading them allocates nothing and creates no child; calling a level method creates it.
 */
const FORWARDERS = new Map<string | symbol, Forwarder>([
  ...(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent', 'child'] as const).map(
    (name): [string, Forwarder] => [name, function (...args) { return this[CHILD]![name]!(...args); }],
  ),
  ['isLevelEnabled', function (...args) { return this[CURRENT]!.isLevelEnabled!(...args); }],
]);

/**
 * Fastify's childLoggerFactory. `request.log` (also `reply.log` and a Lambda handler's `context.logger`) stands for the
 * request's pino child logger, bound to its request id, with its whole pino surface (isLevelEnabled, bindings,
 * setBindings, flush, child, levels...). The child is created the first time a line is logged or a member other
 * than the level is used: most requests log nothing beyond their access line, and a pino child per request cost 4 %
 * of the CPU. Until then `level` and `isLevelEnabled` are the parent's, which the child would inherit.
 */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  const state: LazyChild = { parent: logger, bindings, options, child: undefined };
  return new Proxy(state, LAZY_CHILD) as unknown as FastifyBaseLogger;
}

interface LazyChild {
  parent: FastifyBaseLogger;
  bindings: Bindings;
  options: ChildLoggerOptions;
  child: FastifyBaseLogger | undefined;
}

const real = (s: LazyChild) => (s.child ??= s.parent.child(s.bindings, s.options));

/** One handler for every request logger: a request costs one small object and its proxy. */
const LAZY_CHILD: ProxyHandler<LazyChild> = {
  get(s, property) {
    const forwarder = FORWARDERS.get(property);
    if (forwarder !== undefined) return forwarder;
    if (property === CHILD) return real(s);
    if (property === CURRENT) return s.child ?? s.parent;
    if (property === 'level' && s.child === undefined) return s.parent.level;
    const target = real(s);
    const value: unknown = Reflect.get(target, property, target);
    return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
  },
  set: (s, property, value) => Reflect.set(real(s), property, value),
  has: (s, property) => Reflect.has(real(s), property),
  getPrototypeOf: (s) => Reflect.getPrototypeOf(real(s)),
  ownKeys: (s) => Reflect.ownKeys(real(s)),
  getOwnPropertyDescriptor: (s, property) => {
    const d = Reflect.getOwnPropertyDescriptor(real(s), property);
    return d === undefined ? undefined : { ...d, configurable: true };
  },
};
