// One HTTP request with its time to first byte: used by the smoke test and the cold-start probe.
import http from 'node:http';
import https from 'node:https';
import dns, { type LookupAddress, type LookupOptions } from 'node:dns';

/**
 * Names under .localhost are loopback (RFC 6761 section 6.3), as curl and browsers resolve them; the system resolver
 * does not, so the local cluster's URLs (http://<service>-<namespace>.localhost:<port>) need this.
 */
export function lookup(
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) {
    if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(null, '127.0.0.1', 4);
    return;
  }
  dns.lookup(hostname, options, callback as never);
}

export interface Probe {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Milliseconds from sending the request to receiving the response head (status line and headers). */
  ttfbMs: number;
  /** Milliseconds until the whole body was read. */
  totalMs: number;
}

export interface ProbeOptions {
  timeoutMs?: number;
  headers?: Record<string, string>;
}

export function get(url: string, opts: ProbeOptions = {}): Promise<Probe> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = mod.request(
      u,
      { method: 'GET', headers: { 'user-agent': 'knative-fn-deploy', ...opts.headers }, agent: false, lookup },
      (res) => {
        const ttfbMs = performance.now() - t0;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ttfbMs, totalMs: performance.now() - t0 }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`no response from ${url} within ${opts.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export const TRACERESPONSE_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/** Trace id from a `traceresponse` header, or undefined. */
export function traceId(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v ? TRACERESPONSE_RE.exec(v)?.[1] : undefined;
}

/** Parses `Server-Timing: a;dur=1.5, b;desc="x";dur=2` into [['a', 1.5], ['b', 2]] (metrics without dur are skipped). */
export function parseServerTiming(value: string | string[] | undefined): Array<[string, number]> {
  const v = Array.isArray(value) ? value.join(',') : value;
  if (!v) return [];
  const out: Array<[string, number]> = [];
  for (const metric of v.split(',')) {
    const [name, ...params] = metric.split(';').map((s) => s.trim());
    if (!name) continue;
    for (const p of params) {
      const m = /^dur=([0-9.]+)$/i.exec(p);
      if (m) out.push([name, Number(m[1])]);
    }
  }
  return out;
}
