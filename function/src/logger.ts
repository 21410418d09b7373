/**
 * JSON logs to stdout (pino). Redaction is defence in depth: the platform never logs headers or secrets itself, but
 * user code that logs a request, an event or a context object does not leak credentials or secret values either.
 */
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

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

export function createLogger(level: LogLevel, base: Record<string, string>, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    },
    destination ?? pino.destination({ fd: 1, sync: true }),
  );
}
