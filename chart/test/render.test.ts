// The chart renders for every scenario, passes `helm lint --strict`, and agrees with the function: ports and probe
// paths come from chart/files/contract.json (which the templates read), env names from the function's environment
// schema (function/src/config.ts), versions from platform/versions.json; never restated here.
import t from 'tap';
import { RUNTIME_ENV } from '../../function/src/config.ts';
import { cpSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  CHART,
  NAMESPACE,
  ROOT,
  byKind,
  contract,
  helmTemplate,
  knativeModuleDir,
  knativeService,
  parseObjects,
  render,
  run,
  scenarios,
  tempDir,
  tool,
  valueFiles,
  versions,
} from './helpers.ts';

const all = scenarios();

t.test('the required scenarios exist', async (t) => {
  for (const s of ['default', 'dev', 'prod', 'canary', 'minimal']) t.ok(all.includes(s), `scenario ${s} exists (chart/ci/${s}-values.yaml or platform/envs/${s}/function-values.yaml)`);
});

for (const scenario of all) {
  t.test(`helm lint --strict (${scenario})`, async (t) => {
    const r = run(tool('helm'), ['lint', CHART, '--strict', '--namespace', NAMESPACE, '--kube-version', versions().kubernetes.version, ...valueFiles(scenario)]);
    t.equal(r.status, 0, `helm lint --strict passes:\n${r.output}`);
    t.notMatch(r.output, /\[(WARNING|ERROR)\]/, `no lint findings:\n${r.output}`);
  });

  t.test(`helm template (${scenario}) renders the function as a Knative Service`, async (t) => {
    const { objects } = render(scenario);
    const ksvc = knativeService(objects);
    const c = contract();
    const container = ksvc.spec.template.spec.containers[0];

    // Exactly one port, the function's HTTP port.
    t.same(container.ports.map((p: { containerPort: number }) => p.containerPort), [c.ports.http], 'one container port: contract ports.http');

    // Env: the function's schema names (or the OpenTelemetry SDK's), the required ones present, never Knative's.
    const env: Array<{ name: string; value: string }> = container.env;
    const names = env.map((e) => e.name);
    for (const n of names) t.ok(n in RUNTIME_ENV || n.startsWith('OTEL_'), `env ${n} is in the function's schema, or the OpenTelemetry SDK's`);
    for (const name of ['METRICS_PORT', 'AWS_REGION', 'SECRETS', 'SECRETS_REFRESH_SECONDS', 'LOG_LEVEL', 'REQUEST_TIMEOUT_SECONDS', 'SHUTDOWN_TIMEOUT_SECONDS', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_TRACES_SAMPLER']) {
      t.ok(names.includes(name), `env sets ${name}`);
    }
    t.notOk(names.includes('PORT'), 'PORT is left to Knative');
    t.notOk(names.some((n) => n.startsWith('K_')), 'no K_* variables (Knative sets them)');
    t.equal(new Set(names).size, names.length, 'no duplicate env names');
    const value = (name: string) => env.find((e) => e.name === name)?.value;
    t.equal(value('METRICS_PORT'), String(c.ports.metrics), 'METRICS_PORT is contract ports.metrics');
    t.equal(value('REQUEST_TIMEOUT_SECONDS'), String(ksvc.spec.template.spec.timeoutSeconds), 'REQUEST_TIMEOUT_SECONDS equals the revision timeoutSeconds');
    t.ok(Number(value('SHUTDOWN_TIMEOUT_SECONDS')) < ksvc.spec.template.spec.timeoutSeconds, 'shutdown budget fits in the grace period (timeoutSeconds)');

    // Probes: the contract's paths on the user port; readiness without period/timeouts = aggressive probing.
    t.equal(container.readinessProbe.httpGet.path, c.probes.readiness, 'readiness path is contract probes.readiness');
    t.equal(container.livenessProbe.httpGet.path, c.probes.liveness, 'liveness path is contract probes.liveness');
    t.equal(container.readinessProbe.httpGet.port, c.ports.http, 'readiness probes the user port');
    t.equal(container.livenessProbe.httpGet.port, c.ports.http, 'liveness probes the user port');

    // Restricted security context and a writable /tmp on a read-only root.
    t.match(container.securityContext, {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    t.same(container.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }], '/tmp is mounted');
    t.ok(ksvc.spec.template.spec.volumes.find((v: { name: string; emptyDir?: object }) => v.name === 'tmp' && v.emptyDir), '/tmp is an emptyDir');
    t.equal(ksvc.spec.template.spec.automountServiceAccountToken, false, 'no API token in the pod');

    // Image by digest unless the scenario asks for a tag.
    t.match(container.image, /^[^@:]+(@sha256:[a-f0-9]{64}|:[\w.-]+)$/, 'image by digest or tag');

    // Revision template: nothing that changes per chart release (a change there mints a Revision).
    const tmplLabels = ksvc.spec.template.metadata.labels ?? {};
    t.notOk('helm.sh/chart' in tmplLabels, 'no helm.sh/chart label on the revision template');
    t.notOk('app.kubernetes.io/version' in tmplLabels, 'no version label on the revision template');
    t.ok(ksvc.metadata.labels?.['helm.sh/chart'], 'the Service itself carries the chart label');

    // Autoscaling annotations sit on the revision template, as strings.
    const ann = ksvc.spec.template.metadata.annotations;
    for (const k of ['class', 'metric', 'target', 'target-utilization-percentage', 'min-scale', 'max-scale', 'initial-scale', 'target-burst-capacity']) {
      t.type(ann[`autoscaling.knative.dev/${k}`], 'string', `autoscaling.knative.dev/${k} set`);
    }
    t.notOk(Object.keys(ksvc.metadata.annotations ?? {}).some((k) => k.startsWith('autoscaling.')), 'no autoscaling annotation on the Service metadata');

    // Traffic adds up to 100.
    t.equal(ksvc.spec.traffic.reduce((a: number, r: { percent: number }) => a + r.percent, 0), 100, 'traffic percents add up to 100');

    // Every object in the release namespace.
    for (const o of objects) t.equal(o.metadata.namespace, NAMESPACE, `${o.kind}/${o.metadata.name} is namespaced`);
  });
}

t.test('PodMonitor scrapes the contract metrics port and path on the revision pods', async (t) => {
  const c = contract();
  const { objects } = render('dev');
  const [pm] = byKind(objects, 'PodMonitor');
  t.ok(pm, 'dev renders a PodMonitor');
  const ep = pm!.spec.podMetricsEndpoints[0];
  t.equal(ep.path, c.metricsPath, 'path is contract metricsPath');
  // Knative names the user container's port in the pod it creates (revision_helpers.go in the pinned module).
  const helpers = join(knativeModuleDir(), 'pkg/apis/serving/v1/revision_helpers.go');
  const knativeSource = readFileSync(helpers, 'utf8');
  const userPortName = /UserPortName = "([^"]+)"/.exec(knativeSource)?.[1];
  const userMetricPortName = /UserQueueMetricsPortName = "([^"]+)"/.exec(knativeSource)?.[1];
  t.equal(ep.port, userPortName, `selects the target of Knative's user port (${userPortName})`);
  const canary = byKind(render('canary').objects, 'PodMonitor')[0]!;
  t.equal(canary.spec.podMetricsEndpoints[1].port, userMetricPortName, `queue-proxy endpoint uses Knative's port name (${userMetricPortName})`);
  const addr = ep.relabelings.find((r: { targetLabel: string }) => r.targetLabel === '__address__');
  t.equal(addr.replacement, `\${1}:${c.ports.metrics}`, 'address rewritten to the pod IP and METRICS_PORT');
  t.same(pm!.spec.selector.matchLabels, { 'serving.knative.dev/service': knativeService(objects).metadata.name }, "selects this Service's pods");
  t.same(byKind(render('default').objects, 'PodMonitor'), [], 'off by default');
});

t.test("a function's own scaling target (its values file) reaches dev and prod: the environments set only their availability policy", async (t) => {
  const file = join(tempDir('fn-values'), 'values.yaml');
  writeFileSync(file, 'autoscaling:\n  target: 12\n  targetUtilizationPercentage: 60\n');
  for (const env of ['dev', 'prod']) {
    // The deploy's order: chart defaults, the function's values file, the environment's, the platform's.
    const files = valueFiles(env);
    const r = helmTemplate([...files.slice(0, 2), '-f', file, ...files.slice(2)]);
    t.equal(r.status, 0, r.output);
    const annotations = knativeService(parseObjects(r.stdout)).spec.template.metadata.annotations;
    t.equal(annotations['autoscaling.knative.dev/target'], '12', `${env}: the function's target`);
    t.equal(annotations['autoscaling.knative.dev/target-utilization-percentage'], '60', `${env}: the function's utilization`);
  }
});

t.test('NetworkPolicy: data plane to queue-proxy only, metrics to monitoring only, no IMDS', async (t) => {
  const c = contract();
  const { objects } = render('prod');
  const [np] = byKind(objects, 'NetworkPolicy');
  t.ok(np, 'prod renders a NetworkPolicy');
  const ingressPorts = np!.spec.ingress.flatMap((r: { ports: Array<{ port: number }> }) => r.ports.map((p) => p.port));
  for (const p of ingressPorts.filter((p: number) => p !== c.ports.metrics)) {
    t.ok(c.reservedPorts.includes(p), `ingress port ${p} is one of queue-proxy's (contract reservedPorts)`);
  }
  t.notOk(ingressPorts.includes(c.ports.http), 'the function port is not opened (queue-proxy reaches it on localhost)');
  // The observability stack's namespace, from its one home (the platform module's variable default).
  const tf = readFileSync(join(ROOT, 'platform/modules/observability/variables.tf'), 'utf8');
  const obsNs = /variable "namespace" \{[^}]*?default\s*=\s*"([^"]+)"/s.exec(tf)?.[1];
  t.ok(obsNs, 'platform/modules/observability declares the namespace of Prometheus and the collector');
  const metricsRule = np!.spec.ingress.find((r: { ports: Array<{ port: number }> }) => r.ports.some((p) => p.port === c.ports.metrics));
  t.same(metricsRule.from, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': obsNs } } }], `metrics port only from Prometheus's namespace (${obsNs})`);
  const otel = np!.spec.egress.find((r: { ports: Array<{ port: number }> }) => r.ports.some((p) => p.port === 4318));
  t.same(otel.to, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': obsNs } } }], 'OTLP egress to the collector namespace');
  const endpoint = knativeService(objects).spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === 'OTEL_EXPORTER_OTLP_ENDPOINT').value;
  t.match(new URL(endpoint).hostname, new RegExp(`^otel-collector\\.${obsNs}\\.svc`), 'the default OTLP endpoint is the collector in that namespace');
  const https = np!.spec.egress.find((r: { ports: Array<{ port: number }> }) => r.ports.some((p) => p.port === 443));
  t.same(https.to[0].ipBlock, { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] }, 'HTTPS anywhere except instance metadata');
  // EKS Auto Mode (the platform's clusters, NetworkPolicy enforced by platform/charts/cluster-config) serves DNS from
  // every node, not from kube-dns pods: a rule with peers selecting pods matches nothing there and denies DNS.
  const dns = np!.spec.egress.filter((r: { ports: Array<{ port: number }> }) => r.ports.some((p) => p.port === 53));
  t.equal(dns.length, 1, 'one DNS rule');
  t.same(
    [...dns[0].ports].sort((a: { protocol: string }, b: { protocol: string }) => a.protocol.localeCompare(b.protocol)),
    [{ protocol: 'TCP', port: 53 }, { protocol: 'UDP', port: 53 }],
    'DNS over UDP and TCP',
  );
  t.notOk('to' in dns[0], 'DNS to any address (no pod selector that nothing matches on Auto Mode)');
});

t.test('chart metadata agrees with package.json and platform/versions.json', async (t) => {
  const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'));
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  t.equal(chart.appVersion, pkg.version, 'Chart.yaml appVersion is package.json version');
  t.equal(chart.annotations['knative.dev/serving-release'], versions().knative.release, 'Knative release annotation is platform/versions.json');
  const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
  const c = contract();
  for (const p of [...values.networkPolicy.queueProxyPorts, values.networkPolicy.autoscalerStatsPort, values.networkPolicy.queueProxyMetricsPort]) {
    t.ok(c.reservedPorts.includes(p), `networkPolicy port ${p} is a queue-proxy port (contract reservedPorts)`);
  }
});

t.test('every values key is documented with a "# --" comment (on the key or on its parent)', async (t) => {
  const lines = readFileSync(join(CHART, 'values.yaml'), 'utf8').split('\n');
  /** Is there a `# --` comment in the comment block right above line i (or on the `- # --` line of a list item)? */
  const commented = (i: number): boolean => {
    if (/^\s*-\s*#\s--/.test(lines[i - 1] ?? '')) return true;
    for (let j = i - 1; j >= 0 && /^\s*#/.test(lines[j]!); j--) if (/#\s--/.test(lines[j]!)) return true;
    return false;
  };
  const indentOf = (l: string) => /^(\s*)/.exec(l)![1]!.length;
  let keys = 0;
  lines.forEach((line, i) => {
    const m = /^(\s*)(?:-\s+)?([A-Za-z]\w*):(\s|$)/.exec(line);
    if (!m) return;
    // A map of documented keys (image:, autoscaling:, ...) is documented by its children.
    const next = lines.slice(i + 1).find((l) => l.trim() !== '' && !/^\s*#/.test(l));
    if (/:\s*$/.test(line) && next && indentOf(next) > m[1]!.length && /^\s*[A-Za-z]\w*:/.test(next)) return;
    keys++;
    // Walk up through the ancestors (lines with less indentation) until one is documented.
    let documented = commented(i);
    let indent = m[1]!.length;
    for (let k = i - 1; k >= 0 && !documented && indent > 0; k--) {
      const l = lines[k]!;
      if (l.trim() === '' || /^\s*#/.test(l) || indentOf(l) >= indent) continue;
      indent = indentOf(l);
      documented = commented(k);
    }
    t.ok(documented, `values.yaml:${i + 1} ${m[2]} is documented`);
  });
  t.ok(keys > 70, `${keys} keys checked`);
});

t.test('NOTES.txt tells how to call the service and find its trace', async (t) => {
  // helm renders NOTES only on install; render the same template as an ordinary one from a copy of the chart.
  const copy = join(tempDir('notes'), 'chart');
  cpSync(CHART, copy, { recursive: true });
  renameSync(join(copy, 'templates/NOTES.txt'), join(copy, 'notes.tpl'));
  writeFileSync(join(copy, 'templates/notes.yaml'), 'notes: {{ tpl (.Files.Get "notes.tpl") . | toJson }}\n');
  for (const scenario of ['dev', 'canary']) {
    const r = run(tool('helm'), ['template', 'fn', copy, '--namespace', NAMESPACE, '--kube-version', versions().kubernetes.version, '--show-only', 'templates/notes.yaml', ...valueFiles(scenario)]);
    t.equal(r.status, 0, `${scenario}: NOTES render:\n${r.output}`);
    const notes: string = parse(r.stdout)?.notes ?? '';
    t.match(notes, /kubectl -n functions get ksvc\/fn-knative-fn|get ksvc\/hello-fn/, `${scenario}: how to get the URL`);
    t.match(notes, /curl -si "\$URL\/"/, `${scenario}: how to call it`);
    t.match(notes, /traceresponse/, `${scenario}: how to find the trace`);
  }
});
