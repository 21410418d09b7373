/**
 * An OTLP/HTTP JSON receiver on a free loopback port: keeps every request (path and parsed body) and flattens the
 * exported spans, as a collector would receive them.
 */
import { createServer } from 'node:http';
import type { Test } from 'tap';

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  links?: Array<{ traceId: string; spanId: string }>;
}

export interface Receiver {
  /** Base URL (OTEL_EXPORTER_OTLP_ENDPOINT): the SDK appends /v1/traces, /v1/metrics, /v1/logs. */
  url: string;
  /** Paths of every request received, in order. */
  paths(): string[];
  spans(): OtlpSpan[];
  /** Resolves once `predicate` holds for the spans received (polls), else fails after `timeoutMs`. */
  waitFor(predicate: (spans: OtlpSpan[]) => boolean, timeoutMs?: number): Promise<OtlpSpan[]>;
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };

export async function startReceiver(t: Test): Promise<Receiver> {
  const requests: Array<{ path: string; body: unknown }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += String(c)));
    req.on('end', () => {
      let parsed: unknown = undefined;
      try {
        parsed = JSON.parse(body);
      } catch {
        // protobuf or empty: the path is kept
      }
      requests.push({ path: req.url ?? '', body: parsed });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const spans = (): OtlpSpan[] =>
    requests
      .filter((r) => r.path === '/v1/traces')
      .flatMap((r) => {
        const body = r.body as { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }> }> };
        return (body.resourceSpans ?? []).flatMap((rs) => (rs.scopeSpans ?? []).flatMap((ss) => ss.spans ?? []));
      })
      .map((s) => ({
        ...(s as unknown as OtlpSpan),
        attributes: Object.fromEntries(
          ((s.attributes as Array<{ key: string; value: AnyValue }> | undefined) ?? []).map(({ key, value }) => [
            key,
            value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue,
          ]),
        ),
      }));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    paths: () => requests.map((r) => r.path),
    spans,
    async waitFor(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = spans();
        if (predicate(now)) return now;
        if (Date.now() > deadline) throw new Error(`spans not received in ${timeoutMs} ms: ${JSON.stringify(now.map((s) => s.name))}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
