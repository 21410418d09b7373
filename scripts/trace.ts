#!/usr/bin/env node
/**
 * `make trace ID=<trace id>`: prints one trace's span tree from Jaeger's query API (service, span name, duration,
 * status, key attributes), with the spans it links to (e.g. the function's startup `secrets.load`).
 *
 *   node scripts/trace.ts <trace id | traceresponse value>
 *   JAEGER_URL (default: make dev's Jaeger, http://127.0.0.1:$DEV_JAEGER_PORT, 16686)
 *
 * Works against the local stack's Jaeger or an in-cluster one through `kubectl port-forward`. Waits up to
 * TRACE_WAIT_SECONDS (default 10) for a trace that has not arrived yet (exporters batch their spans).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PORTS } from './dev/lib/ports.ts';

export interface JaegerTag {
  key: string;
  type?: string;
  value: unknown;
}
export interface JaegerRef {
  refType: 'CHILD_OF' | 'FOLLOWS_FROM';
  traceID: string;
  spanID: string;
}
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: JaegerRef[];
  startTime: number;
  duration: number;
  tags?: JaegerTag[];
  processID: string;
}
export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags?: JaegerTag[] }>;
}

/**
 * Whether span `next` began after span `prev` ended, compared in whole milliseconds. The Node SDK stamps a span's
 * start with Date.now() (whole milliseconds) and its end as that start plus a microsecond duration, so comparing the
 * raw microsecond figures would see an overlap whenever the next request entered within the millisecond the previous
 * one left.
 */
export function startsAfterEnd(prev: Pick<JaegerSpan, 'startTime' | 'duration'>, next: Pick<JaegerSpan, 'startTime'>): boolean {
  const ms = (us: number) => Math.floor(us / 1000);
  return ms(next.startTime) >= ms(prev.startTime + prev.duration);
}

/** Attributes worth a glance in a terminal, in this order. */
const KEY_ATTRIBUTES = [
  'http.request.method',
  'http.route',
  'url.path',
  'http.response.status_code',
  'error.type',
  'server.address',
  'function.secrets.count',
  'rpc.method',
  'aws.secretsmanager.secret_id',
  'function.cold_start',
];

/** Accepts a bare 32-hex trace id or a `traceresponse`/`traceparent` value (`00-<trace>-<span>-<flags>`). */
export function parseTraceId(input: string): string | undefined {
  const s = input.trim().toLowerCase();
  const full = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(s);
  if (full) return full[1];
  if (/^[0-9a-f]{1,32}$/.test(s)) return s.padStart(32, '0');
  return undefined;
}

const tag = (span: JaegerSpan, key: string): unknown => span.tags?.find((t) => t.key === key)?.value;

export function formatDuration(us: number): string {
  if (us >= 1_000_000) return `${(us / 1_000_000).toFixed(2)} s`;
  if (us >= 1_000) return `${(us / 1_000).toFixed(1)} ms`;
  return `${us} µs`;
}

function status(span: JaegerSpan): string {
  const code = tag(span, 'otel.status_code');
  if (code === 'ERROR' || tag(span, 'error') === true) {
    const desc = tag(span, 'otel.status_description');
    return desc ? `ERROR (${String(desc)})` : 'ERROR';
  }
  return code === 'OK' ? 'OK' : 'unset';
}

function attributes(span: JaegerSpan): string {
  const parts: string[] = [];
  for (const key of KEY_ATTRIBUTES) {
    const v = tag(span, key);
    if (v !== undefined && v !== '') parts.push(`${key}=${String(v)}`);
  }
  return parts.join(' ');
}

/** The service name, plus the container when the process reports one (queue-proxy shares the Service's name). */
function serviceLabel(trace: JaegerTrace, span: JaegerSpan): string {
  const p = trace.processes[span.processID];
  const container = p?.tags?.find((t) => t.key === 'container.name' || t.key === 'k8s.container.name')?.value;
  return `${p?.serviceName ?? '?'}${container ? `/${String(container)}` : ''}`;
}

/** Spans (of other traces) that spans of this trace link to, resolved for display. */
export type LinkedSpans = Map<string, { trace: JaegerTrace; span: JaegerSpan }>;

export function formatTrace(trace: JaegerTrace, linked: LinkedSpans = new Map()): string {
  const spans = [...trace.spans].sort((a, b) => a.startTime - b.startTime);
  const byId = new Map(spans.map((s) => [s.spanID, s]));
  const parentOf = (s: JaegerSpan): string | undefined =>
    s.references?.find((r) => r.refType === 'CHILD_OF' && r.traceID === s.traceID)?.spanID;
  const children = new Map<string, JaegerSpan[]>();
  const roots: JaegerSpan[] = [];
  for (const s of spans) {
    const p = parentOf(s);
    if (p && byId.has(p)) {
      const list = children.get(p) ?? [];
      list.push(s);
      children.set(p, list);
    } else {
      roots.push(s);
    }
  }
  const services = new Set(spans.map((s) => serviceLabel(trace, s)));
  const start = Math.min(...spans.map((s) => s.startTime));
  const end = Math.max(...spans.map((s) => s.startTime + s.duration));
  const lines = [
    `trace ${trace.traceID}: ${spans.length} span${spans.length === 1 ? '' : 's'}, ${services.size} service${services.size === 1 ? '' : 's'} (${[...services].join(', ')}), ${formatDuration(end - start)}`,
  ];
  const describe = (s: JaegerSpan, t: JaegerTrace): string => {
    const service = serviceLabel(t, s);
    const kind = tag(s, 'span.kind');
    const attrs = attributes(s);
    return `${service}  ${s.operationName}${kind ? ` [${String(kind)}]` : ''}  ${formatDuration(s.duration)}  ${status(s)}${attrs ? `  ${attrs}` : ''}`;
  };
  const walk = (s: JaegerSpan, prefix: string, last: boolean, isRoot: boolean): void => {
    const branch = isRoot ? '' : last ? '└─ ' : '├─ ';
    const offset = `+${formatDuration(s.startTime - start)}`;
    const orphan = isRoot && parentOf(s) ? `  (child of ${parentOf(s)}, not in this trace: the caller's span)` : '';
    lines.push(`${prefix}${branch}${describe(s, trace)}  ${offset}${orphan}`);
    const childPrefix = isRoot ? prefix : prefix + (last ? '   ' : '│  ');
    for (const ref of s.references ?? []) {
      if (ref.refType === 'CHILD_OF' && ref.traceID === s.traceID) continue;
      const target = linked.get(`${ref.traceID}/${ref.spanID}`);
      const what = target ? describe(target.span, target.trace) : `span ${ref.spanID}`;
      lines.push(`${childPrefix}${isRoot ? '' : '   '}↪ links to ${what}  (trace ${ref.traceID})`);
    }
    const kids = children.get(s.spanID) ?? [];
    kids.forEach((k, i) => walk(k, childPrefix, i === kids.length - 1, false));
  };
  for (const r of roots) walk(r, '', true, true);
  return lines.join('\n');
}

export async function fetchTrace(jaegerUrl: string, traceId: string): Promise<JaegerTrace | undefined> {
  const res = await fetch(`${jaegerUrl.replace(/\/$/, '')}/api/traces/${traceId}`, { signal: AbortSignal.timeout(5_000) });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`Jaeger answered ${res.status} for trace ${traceId}: ${(await res.text()).slice(0, 300)}`);
  const body = (await res.json()) as { data?: JaegerTrace[] };
  const trace = body.data?.[0];
  return trace && trace.spans.length > 0 ? trace : undefined;
}

/** Fetches a trace (waiting up to `waitMs` for it to arrive) and the spans it links to. */
export async function loadTrace(
  jaegerUrl: string,
  traceId: string,
  waitMs: number,
): Promise<{ trace: JaegerTrace; linked: LinkedSpans } | undefined> {
  const deadline = Date.now() + waitMs;
  let trace = await fetchTrace(jaegerUrl, traceId);
  while (!trace && Date.now() < deadline) {
    await sleep(500);
    trace = await fetchTrace(jaegerUrl, traceId);
  }
  if (!trace) return undefined;
  // Spans of one trace arrive from several exporters (queue-proxy, the function), each batching: wait until the
  // span count stops growing for a moment.
  for (let stable = 0; stable < 2 && Date.now() < deadline + 3_000; ) {
    await sleep(600);
    const again = await fetchTrace(jaegerUrl, traceId);
    if (again && again.spans.length > trace.spans.length) {
      trace = again;
      stable = 0;
    } else {
      stable += 1;
    }
  }
  const linked: LinkedSpans = new Map();
  for (const s of trace.spans) {
    for (const ref of s.references ?? []) {
      if (ref.refType === 'CHILD_OF' && ref.traceID === s.traceID) continue;
      const other = ref.traceID === trace.traceID ? trace : await fetchTrace(jaegerUrl, ref.traceID).catch(() => undefined);
      const span = other?.spans.find((x) => x.spanID === ref.spanID);
      if (other && span) linked.set(`${ref.traceID}/${ref.spanID}`, { trace: other, span });
    }
  }
  return { trace, linked };
}

async function main(argv: string[]): Promise<number> {
  const input = argv[0] ?? '';
  const jaegerUrl = process.env.JAEGER_URL || `http://127.0.0.1:${process.env.DEV_JAEGER_PORT || DEFAULT_PORTS.jaegerQuery}`;
  const traceId = parseTraceId(input);
  if (!traceId) {
    process.stderr.write(
      `usage: make trace ID=<trace id>  (32 hex digits, or a whole traceresponse header value)\n${input ? `not a trace id: ${input}\n` : ''}`,
    );
    return 2;
  }
  const waitSeconds = Number(process.env.TRACE_WAIT_SECONDS ?? '10');
  let result: Awaited<ReturnType<typeof loadTrace>>;
  try {
    result = await loadTrace(jaegerUrl, traceId, (Number.isFinite(waitSeconds) ? waitSeconds : 10) * 1000);
  } catch (err) {
    const msg = err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err);
    process.stderr.write(`cannot query Jaeger at ${jaegerUrl}: ${msg}\n  -> is make dev running? For a cluster: kubectl port-forward, then JAEGER_URL=http://127.0.0.1:<port>\n`);
    return 1;
  }
  if (!result) {
    process.stderr.write(`trace ${traceId} not found in Jaeger at ${jaegerUrl} (waited ${waitSeconds} s)\n`);
    return 1;
  }
  process.stdout.write(`${formatTrace(result.trace, result.linked)}\n`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
