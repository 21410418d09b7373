/**
 * The local stack's configuration comes from the chart and the contract: queue-proxy's environment is what Knative's
 * reconciler would give it for the chart's default values, and the default ports stay clear of queue-proxy's.
 * No processes are started here.
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadChartModel } from '../../dev/lib/chart.ts';
import { queueProxyEnv } from '../../dev/lib/queue-proxy.ts';
import { DEFAULT_PORTS, portsFromEnv, RESERVED_PORTS, REPO_ROOT, toolPaths } from '../../dev/lib/stack.ts';
import { formatTrace, parseTraceId, startsAfterEnd, type JaegerTrace } from '../../trace.ts';

const values = parse(readFileSync(join(REPO_ROOT, 'chart/values.yaml'), 'utf8')) as {
  containerConcurrency: number;
  timeoutSeconds: number;
  responseStartTimeoutSeconds: number | null;
  idleTimeoutSeconds: number | null;
  probes: { readiness: { periodSeconds: number } };
  podMonitor: { queueProxy: boolean };
};
const contract = JSON.parse(readFileSync(join(REPO_ROOT, 'chart/files/contract.json'), 'utf8')) as {
  ports: { http: number; metrics: number };
  probes: { readiness: string };
  reservedPorts: number[];
};

t.test("queue-proxy's environment is the reconciler's for the chart's default values", async (t) => {
  const helm = toolPaths().helm;
  if (!existsSync(helm)) {
    t.fail(`helm not found at ${helm}: run make tools`);
    return;
  }
  const model = loadChartModel(REPO_ROOT, helm);
  const rev = model.revision;
  const env = queueProxyEnv({
    revision: rev,
    ports: { serving: 8012, tls: 8112, user: rev.containerPort, requestMetrics: 9091 },
    podName: 'p',
    podIp: '10.0.0.1',
    tracingEndpoint: 'http://collector:4318/v1/traces',
    samplingRate: 1,
  });
  t.equal(env.CONTAINER_CONCURRENCY, String(values.containerConcurrency), 'CONTAINER_CONCURRENCY = values.containerConcurrency');
  t.equal(env.REVISION_TIMEOUT_SECONDS, String(values.timeoutSeconds), 'REVISION_TIMEOUT_SECONDS = values.timeoutSeconds');
  t.equal(env.REVISION_RESPONSE_START_TIMEOUT_SECONDS, String(values.responseStartTimeoutSeconds ?? 0), 'response start timeout');
  t.equal(env.REVISION_IDLE_TIMEOUT_SECONDS, String(values.idleTimeoutSeconds ?? 0), 'idle timeout');
  t.equal(env.USER_PORT, String(contract.ports.http), "USER_PORT = the container port, the contract's http port");
  t.equal(env.QUEUE_SERVING_PORT, '8012');
  t.equal(env.SERVING_REVISION, `${rev.serviceName}-00001`, 'first revision name');
  const probe = JSON.parse(env.SERVING_READINESS_PROBE!) as Record<string, unknown>;
  const expected: Record<string, unknown> = {
    httpGet: { path: contract.probes.readiness, port: contract.ports.http, host: '127.0.0.1', scheme: 'HTTP' },
    successThreshold: 1,
  };
  if (values.probes.readiness.periodSeconds > 0) {
    Object.assign(expected, { timeoutSeconds: 1, periodSeconds: values.probes.readiness.periodSeconds, failureThreshold: 3 });
  }
  t.same(probe, expected, `SERVING_READINESS_PROBE: ${env.SERVING_READINESS_PROBE}`);
  const o11y = JSON.parse(env.OBSERVABILITY_CONFIG!) as { tracing: { samplingRate: number; protocol: string } };
  t.same(o11y.tracing, { protocol: 'http/protobuf', endpoint: 'http://collector:4318/v1/traces', samplingRate: 1 }, 'tracing on, every request');
  const chartEnv = Object.fromEntries(rev.env.map((e) => [e.name, e.value]));
  t.equal(chartEnv.METRICS_PORT, String(contract.ports.metrics), "the function's METRICS_PORT comes from the chart");
  t.same(
    model.scrape.map((s) => s.port),
    ['user-port', ...(values.podMonitor.queueProxy ? ['http-usermetric'] : [])],
    "Prometheus scrapes what the chart's PodMonitor selects: the function (and queue-proxy's request metrics when podMonitor.queueProxy)",
  );
  t.equal(model.scrape[0]!.addressPort, contract.ports.metrics, 'the function target is relabelled to METRICS_PORT');
});

t.test('default ports avoid queue-proxy reserved ports and each other; overrides are checked', async (t) => {
  t.same(RESERVED_PORTS, contract.reservedPorts, 'reserved ports read from the contract');
  const ports = Object.values(DEFAULT_PORTS);
  t.equal(new Set(ports).size, ports.length, 'distinct');
  for (const p of ports) t.notOk(RESERVED_PORTS.includes(p), `${p} is not reserved`);
  t.same(portsFromEnv({}), DEFAULT_PORTS);
  t.equal(portsFromEnv({ DEV_FUNCTION_PORT: '8280' }).function, 8280);
  t.throws(() => portsFromEnv({ DEV_FUNCTION_PORT: '8012' }), /reserved by queue-proxy/);
  t.throws(() => portsFromEnv({ DEV_MOTO_PORT: String(DEFAULT_PORTS.function) }), /both/);
  t.throws(() => portsFromEnv({ DEV_OTLP_PORT: 'x' }), /not a port/);
});

t.test('the trace printer draws a tree with services, durations, status, attributes and links', async (t) => {
  t.equal(parseTraceId('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), '4bf92f3577b34da6a3ce929d0e0e4736');
  t.equal(parseTraceId('4BF92F3577B34DA6A3CE929D0E0E4736'), '4bf92f3577b34da6a3ce929d0e0e4736');
  t.equal(parseTraceId('not-a-trace'), undefined);
  const T = '4bf92f3577b34da6a3ce929d0e0e4736';
  const trace: JaegerTrace = {
    traceID: T,
    processes: { p1: { serviceName: 'knative-fn' }, p2: { serviceName: 'knative-fn-00001' } },
    spans: [
      {
        traceID: T, spanID: 'a1', operationName: 'queue', processID: 'p2', startTime: 1_000, duration: 5_000,
        references: [{ refType: 'CHILD_OF', traceID: T, spanID: 'caller' }], tags: [{ key: 'span.kind', value: 'server' }],
      },
      {
        traceID: T, spanID: 'b2', operationName: 'POST /digest', processID: 'p1', startTime: 2_000, duration: 3_000,
        references: [{ refType: 'CHILD_OF', traceID: T, spanID: 'a1' }, { refType: 'FOLLOWS_FROM', traceID: 'ff', spanID: 'c3' }],
        tags: [{ key: 'span.kind', value: 'server' }, { key: 'http.route', value: '/digest' }, { key: 'http.response.status_code', value: 500 }, { key: 'otel.status_code', value: 'ERROR' }],
      },
    ],
  };
  const linked = new Map([['ff/c3', { trace: { traceID: 'ff', processes: { p: { serviceName: 'knative-fn' } }, spans: [] }, span: { traceID: 'ff', spanID: 'c3', operationName: 'secrets.load', processID: 'p', startTime: 0, duration: 45_000 } }]]);
  const out = formatTrace(trace, linked);
  t.equal(
    out,
    [
      `trace ${T}: 2 spans, 2 services (knative-fn-00001, knative-fn), 5.0 ms`,
      'knative-fn-00001  queue [server]  5.0 ms  unset  +0 µs  (child of caller, not in this trace: the caller\'s span)',
      '└─ knative-fn  POST /digest [server]  3.0 ms  ERROR  http.route=/digest http.response.status_code=500  +1.0 ms',
      '      ↪ links to knative-fn  secrets.load  45.0 ms  unset  (trace ff)',
    ].join('\n'),
    out,
  );
});

t.test('span order is compared at one precision: the SDK starts spans in whole ms and ends them in µs', async (t) => {
  // Request 1 entered 0.3 ms after request 0 left (1005.6 ms > 1005.3 ms), within the same millisecond: Jaeger shows
  // its start as 1_005_000 µs (Date.now()), below request 0's end of 1_000_000 + 5_300 µs.
  t.ok(startsAfterEnd({ startTime: 1_000_000, duration: 5_300 }, { startTime: 1_005_000 }), 'same millisecond: not an overlap');
  t.ok(startsAfterEnd({ startTime: 1_000_000, duration: 5_300 }, { startTime: 1_006_000 }));
  t.notOk(startsAfterEnd({ startTime: 1_000_000, duration: 5_300 }, { startTime: 1_004_000 }), 'a real overlap is still one');
  t.notOk(startsAfterEnd({ startTime: 1_000_000, duration: 50_000 }, { startTime: 1_020_000 }));
});
