/**
 * Readiness waits: poll a check until it passes, fail early when the process it waits for has exited, and say
 * what was being waited for when the deadline passes.
 */
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeExit, type Proc } from './proc.ts';

export class StackError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = 'StackError';
    this.hint = hint;
  }
}

/** Polls `check` every `intervalMs` until it returns true; throws after `timeoutMs` or when `proc` exits. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; proc?: Proc },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError = '';
  for (;;) {
    if (options.proc?.exit) {
      throw new StackError(
        `${options.proc.name} exited (${describeExit(options.proc.exit)}) before ${what}; last output:\n${options.proc.tail()}`,
        `full log: ${options.proc.logFile}`,
      );
    }
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      const tail = options.proc ? `\nlast output of ${options.proc.name}:\n${options.proc.tail()}` : '';
      throw new StackError(
        `timed out after ${options.timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}${tail}`,
        options.proc ? `full log: ${options.proc.logFile}` : undefined,
      );
    }
    await sleep(options.intervalMs ?? 100);
  }
}

/** GET with a timeout; returns status and body, or throws on a connection error. */
export async function httpGet(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 2_000,
): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** True when something accepts TCP connections on host:port (any address when host is omitted). */
export function portInUse(port: number, host?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(false)));
  });
}

/** A port the kernel reports free on `host` right now. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
