/**
 * JSON logs to stdout (pino). Redaction is defence in depth: the platform never logs headers or secrets itself, but
 * user code that logs a request, an event or a context object does not leak credentials or secret values either.
 */
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { pino, type Logger, type LoggerOptions } from 'pino';
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

export function createLogger(level: LogLevel, base: Record<string, string>, destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base,
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.isoTime,
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
