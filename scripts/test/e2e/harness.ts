/**
 * End-to-end harness: each suite starts its own local stack (scripts/dev/lib/stack.ts) in its own network
 * namespace when running as root (so suites run side by side and next to a `make dev`), and stops it in teardown.
 */
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import { fetchTrace, type JaegerSpan, type JaegerTrace } from '../../trace.ts';
import { REPO_ROOT, Stack, toolPaths, type StackOptions } from '../../dev/lib/stack.ts';
import { portInUse, StackError } from '../../dev/lib/wait.ts';
import { fixtureServer } from '../../../function/test/helpers/bundle.ts';

export { REPO_ROOT };

// tap ends a test process that runs over its timeout with SIGTERM: exit normally, so the stack's children are
// killed ('exit' hook in scripts/dev/lib/proc.ts) rather than orphaned.
process.once('SIGTERM', () => process.exit(143));

export type StartOptions = Omit<StackOptions, 'stateDir' | 'isolate'>;

/**
 * The stack's tools, with the function: the runtime around the basic fixture (function/test/fixtures/basic, its
 * secret key FIXTURE_KEY), never the example; DEV_FUNCTION_ENTRY still names another bundle.
 */
async function tools(): Promise<ReturnType<typeof toolPaths>> {
  const paths = toolPaths();
  return process.env.DEV_FUNCTION_ENTRY ? paths : { ...paths, functionEntry: await fixtureServer('basic') };
}

/** Fails the test (never skips) when a tool is missing. */
export function requirements(paths = toolPaths()): string | undefined {
  for (const [name, path] of Object.entries(paths)) {
    if (!existsSync(path)) return `${name} not found at ${path}: ${name === 'functionEntry' ? 'run make build' : 'run make tools'}`;
  }
  return undefined;
}

export const canIsolate = (): boolean => {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

export async function startStack(t: Test, options: StartOptions = {}): Promise<Stack> {
  const paths = await tools();
  const missing = requirements(paths);
  if (missing) throw new Error(missing);
  const isolate = canIsolate();
  if (!isolate) {
    for (const p of [8022, 9090]) {
      if (await portInUse(p)) {
        throw new Error(
          `port ${p} is taken (queue-proxy's fixed admin/stats port; is make dev running?) and this user cannot create network namespaces: stop it, or run the tests as root`,
        );
      }
    }
  }
  const stateDir = mkdtempSync(join(tmpdir(), 'knative-fn-e2e-'));
  let stack: Stack;
  try {
    stack = await Stack.start({ secretKey: 'FIXTURE_KEY', tools: paths, ...options, stateDir, isolate, scrapeInterval: options.scrapeInterval ?? '1s' });
  } catch (err) {
    rmSync(stateDir, { recursive: true, force: true });
    if (err instanceof StackError) throw new Error(`${err.message}${err.hint ? `\n${err.hint}` : ''}`);
    throw err;
  }
  t.teardown(async () => {
    await stack.stop({ drain: false, fast: true });
    rmSync(stateDir, { recursive: true, force: true });
  });
  return stack;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  traceId: string | undefined;
  spanId: string | undefined;
  startedAt: number;
  endedAt: number;
}

export function parseTraceResponse(value: unknown): { traceId: string; spanId: string } | undefined {
  const m = typeof value === 'string' ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(value) : null;
  return m ? { traceId: m[1], spanId: m[2] } : undefined;
}

/**
 * One HTTP/1.1 request. With `bodyMs`, the body is sent in chunks spread over that many milliseconds: a request that
 * stays in flight that long (the function has no slow route; a slow client is how requests stay open).
 */
export function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; bodyMs?: number; agent?: import('node:http').Agent } = {},
): Promise<Reply> {
  const startedAt = Date.now();
  return new Promise<Reply>((resolve, reject) => {
    const body = options.body ?? '';
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (body && !headers['content-type']) headers['content-type'] = 'application/json';
    if (body) headers['content-length'] = String(Buffer.byteLength(body));
    const req = httpRequest(url, { method: options.method ?? (body ? 'POST' : 'GET'), headers, agent: options.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const tr = parseTraceResponse(res.headers.traceresponse);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          traceId: tr?.traceId,
          spanId: tr?.spanId,
          startedAt,
          endedAt: Date.now(),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (!body) {
      req.end();
      return;
    }
    if (!options.bodyMs) {
      req.end(body);
      return;
    }
    const size = Math.ceil(body.length / 10);
    const parts: string[] = [];
    for (let o = 0; o < body.length; o += size) parts.push(body.slice(o, o + size));
    const pause = options.bodyMs / parts.length;
    let i = 0;
    const next = (): void => {
      const piece = parts[i];
      i += 1;
      if (i >= parts.length) {
        req.end(piece);
        return;
      }
      req.write(piece);
      setTimeout(next, pause);
    };
    next();
  });
}

export const hmac = (key: string, body: string): string => createHmac('sha256', key).update(body).digest('hex');

/** A JSON body at least `bytes` long (so it can be sent in pieces). */
export function jsonBody(tag: string, bytes = 400): string {
  return JSON.stringify({ tag, pad: 'x'.repeat(bytes) });
}

/** Waits until Jaeger has the trace and `ready(trace)` holds (exporters batch their spans). */
export async function waitForTrace(
  jaegerUrl: string,
  traceId: string,
  ready: (trace: JaegerTrace) => boolean = () => true,
  timeoutMs = 20_000,
): Promise<JaegerTrace> {
  const deadline = Date.now() + timeoutMs;
  let last: JaegerTrace | undefined;
  for (;;) {
    last = await fetchTrace(jaegerUrl, traceId).catch(() => undefined);
    if (last && ready(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(
        `trace ${traceId} not complete in Jaeger after ${timeoutMs} ms; spans so far: ${last ? last.spans.map((s) => s.operationName).join(', ') : 'none'}`,
      );
    }
    await sleep(300);
  }
}

export const serviceOf = (trace: JaegerTrace, span: JaegerSpan): string => trace.processes[span.processID]?.serviceName ?? '';
export const tagOf = (span: JaegerSpan, key: string): unknown => span.tags?.find((t) => t.key === key)?.value;
export const parentOf = (span: JaegerSpan): string | undefined =>
  span.references?.find((r) => r.refType === 'CHILD_OF')?.spanID;

/** The container a span's process reports (queue-proxy sets container.name; its service.name is the Service's). */
export const containerOf = (trace: JaegerTrace, span: JaegerSpan): string =>
  String(trace.processes[span.processID]?.tags?.find((t) => t.key === 'container.name' || t.key === 'k8s.container.name')?.value ?? '');

export const isQueueProxy = (trace: JaegerTrace, span: JaegerSpan): boolean => containerOf(trace, span) === 'queue-proxy';

/** The function's SERVER spans of a trace. */
export function functionServerSpans(trace: JaegerTrace, serviceName: string): JaegerSpan[] {
  return trace.spans.filter((s) => serviceOf(trace, s) === serviceName && !isQueueProxy(trace, s) && tagOf(s, 'span.kind') === 'server');
}

export function functionServerSpan(trace: JaegerTrace, serviceName: string): JaegerSpan | undefined {
  return functionServerSpans(trace, serviceName)[0];
}

/** Instant PromQL query; returns the first sample's value, or undefined when the result is empty. */
export async function promValue(prometheusUrl: string, query: string): Promise<number | undefined> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(5_000) });
  const body = (await res.json()) as { status: string; data?: { result: { value: [number, string] }[] }; error?: string };
  if (body.status !== 'success') throw new Error(`PromQL ${query}: ${body.error ?? res.status}`);
  const first = body.data?.result[0];
  return first ? Number(first.value[1]) : undefined;
}

export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await sleep(intervalMs);
  }
}
