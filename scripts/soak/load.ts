/**
 * A small HTTP load generator for the local stack (used by `make soak` and the drain-under-load test): keep-alive
 * connections, a fixed number of workers, optionally paced to a target rate; every request's outcome, latency and
 * trace id (from the function's `traceresponse` header) is kept for the figures.
 */
import { Agent, request } from 'node:http';

export interface Outcome {
  status: number;
  /** 'ECONNRESET', 'timeout', ... when no response came. */
  error?: string;
  ms: number;
  at: number;
  traceId?: string;
}

export interface LoadOptions {
  url: string;
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  concurrency: number;
  /** Requests per second across all workers; unset: as fast as the workers go (closed loop). */
  rate?: number;
  timeoutMs?: number;
}

export class Load {
  readonly outcomes: Outcome[] = [];
  #stopped = false;
  #workers: Promise<void>[] = [];
  #agent: Agent;
  #next = 0;
  startedAt = 0;
  private readonly options: LoadOptions;

  constructor(options: LoadOptions) {
    this.options = options;
    this.#agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  }

  start(): this {
    this.startedAt = Date.now();
    this.#next = this.startedAt;
    this.#workers = Array.from({ length: this.options.concurrency }, () => this.#worker());
    return this;
  }

  /** Stops sending; resolves when every request in flight has its outcome. */
  async stop(): Promise<Outcome[]> {
    this.#stopped = true;
    await Promise.all(this.#workers);
    this.#agent.destroy();
    return this.outcomes;
  }

  async #worker(): Promise<void> {
    const interval = this.options.rate ? 1000 / this.options.rate : 0;
    while (!this.#stopped) {
      if (interval) {
        // Each worker claims the next send slot of the shared schedule.
        const slot = this.#next;
        this.#next = Math.max(this.#next + interval, Date.now() - 1000);
        const wait = slot - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (this.#stopped) return;
      }
      this.outcomes.push(await this.one());
    }
  }

  one(): Promise<Outcome> {
    const { url, method = 'POST', body = '', headers = {}, timeoutMs = 30_000 } = this.options;
    const at = Date.now();
    const started = performance.now();
    return new Promise<Outcome>((resolve) => {
      const req = request(
        url,
        {
          method,
          agent: this.#agent,
          headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } : headers,
          timeout: timeoutMs,
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            const tr = /^00-([0-9a-f]{32})-/.exec(String(res.headers.traceresponse ?? ''));
            resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, at, traceId: tr?.[1] });
          });
          res.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, error: err.code ?? err.message, ms: performance.now() - started, at }));
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
      req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, error: err.code ?? err.message, ms: performance.now() - started, at }));
      req.end(body || undefined);
    });
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface Summary {
  sent: number;
  ok: number;
  failed: number;
  byStatus: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  rate: number;
}

export function summarize(outcomes: Outcome[], seconds?: number): Summary {
  const byStatus: Record<string, number> = {};
  for (const o of outcomes) {
    const key = o.error ?? String(o.status);
    byStatus[key] = (byStatus[key] ?? 0) + 1;
  }
  const ok = outcomes.filter((o) => o.status >= 200 && o.status < 300).length;
  let first = Infinity;
  let last = -Infinity;
  for (const o of outcomes) {
    // A loop, not Math.max(...): a soak has far more outcomes than a call can take arguments.
    if (o.at < first) first = o.at;
    if (o.at > last) last = o.at;
  }
  const span = seconds ?? (outcomes.length ? (last - first) / 1000 : 0);
  const lat = outcomes.map((o) => o.ms);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    sent: outcomes.length,
    ok,
    failed: outcomes.length - ok,
    byStatus,
    p50Ms: round(percentile(lat, 50)),
    p99Ms: round(percentile(lat, 99)),
    rate: span > 0 ? Math.round(outcomes.length / span) : 0,
  };
}
