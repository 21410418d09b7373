// The PrometheusRule and the Grafana dashboard: rules pass `promtool check rules` and the unit tests in
// fixtures/prometheusrule.promtest.yaml; every dashboard query is valid PromQL; alerts and dashboard refer only
// to metrics the function exports (read from function/src/metrics.ts), prom-client's defaults, Knative's own
// (read from the pinned knative.dev/serving module source), or the rule's own recording rules.
import t from 'tap';
import { copyFileSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CHART, ROOT, byKind, knativeModuleDir, render, run, scenarios, tempDir, tool, writeTemp } from './helpers.ts';

/** Metric names in a PromQL expression (label matchers, strings, ranges, grouping clauses and calls removed). */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);
  const names = new Set<string>();
  for (const m of stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (m[2] || keywords.has(m[1]!.toLowerCase())) continue; // function or aggregation call, or keyword
    names.add(m[1]!);
  }
  return [...names];
}

/** Metric names the function registers with prom-client. */
function functionMetrics(): string[] {
  const file = join(ROOT, 'function/src/metrics.ts');
  if (!existsSync(file)) throw new Error('function/src/metrics.ts is missing: the function declares its metrics there');
  return [...readFileSync(file, 'utf8').matchAll(/\bname:\s*'([a-z_:][a-z0-9_:]*)'/g)].map((m) => m[1]!);
}

/** Knative's OTel metric names in the pinned serving module, as Prometheus exposes them (dots to underscores). */
function knativeMetrics(): string[] {
  const dir = join(knativeModuleDir(), 'pkg');
  const names = new Set<string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.go') && !p.endsWith('_test.go')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/(?:Gauge|Counter|Histogram|UpDownCounter)\(\s*"(kn\.[a-z_.]+)"/g)) names.add(m[1]!.replace(/\./g, '_'));
      }
    }
  };
  walk(dir);
  return [...names];
}

/** Is `name` one of the allowed metrics (histogram and unit suffixes included)? */
function allowed(name: string, bases: string[]): boolean {
  if (/^(process|nodejs)_/.test(name)) return true; // prom-client collectDefaultMetrics()
  return bases.some((b) => [b, `${b}_seconds`].some((n) => name === n || ['_bucket', '_count', '_sum'].some((s) => name === n + s)));
}

type Rule = { record?: string; alert?: string; expr: string };
type Group = { name: string; rules: Rule[] };

const groups = (): Group[] => {
  const [rule] = byKind(render('prod').objects, 'PrometheusRule');
  if (!rule) throw new Error('prod renders no PrometheusRule');
  return rule.spec.groups;
};

t.test('PrometheusRule: promtool check rules and promtool test rules', async (t) => {
  const promtool = tool('promtool');
  const dir = tempDir('rules');
  writeTemp(dir, 'rules.yaml', stringify({ groups: groups() }));
  let r = run(promtool, ['check', 'rules', join(dir, 'rules.yaml')]);
  t.equal(r.status, 0, `promtool check rules:\n${r.output}`);
  copyFileSync(join(CHART, 'test/fixtures/prometheusrule.promtest.yaml'), join(dir, 'test.yaml'));
  r = run(promtool, ['test', 'rules', join(dir, 'test.yaml')]);
  t.equal(r.status, 0, `promtool test rules:\n${r.output}`);
  t.match(r.stdout, /SUCCESS/, r.output);
});

t.test('PrometheusRule: the alerts a team pages on', async (t) => {
  const alerts = groups().flatMap((g) => g.rules.map((r) => r.alert).filter(Boolean));
  for (const a of ['FunctionErrorBudgetBurnFast', 'FunctionErrorBudgetBurnSlow', 'FunctionLatencyP99OverObjective', 'FunctionColdStartOverBudget', 'FunctionSecretRefreshFailing', 'FunctionSecretsStale']) {
    t.ok(alerts.includes(a), `${a} is defined`);
  }
  const noSecrets = byKind(render('dev', ['--set-string', 'function.secrets=']).objects, 'PrometheusRule')[0]!;
  const noSecretAlerts = noSecrets.spec.groups.flatMap((g: Group) => g.rules.map((r) => r.alert)).filter((a: string | undefined) => a?.startsWith('FunctionSecret'));
  t.same(noSecretAlerts, [], 'a function without secrets gets no secret alerts (its refresh timestamp never moves)');
  for (const s of scenarios()) {
    const rules = byKind(render(s).objects, 'PrometheusRule');
    for (const rule of rules) {
      const dir = tempDir(`rules-${s}`);
      const r = run(tool('promtool'), ['check', 'rules', writeTemp(dir, 'rules.yaml', stringify({ groups: rule.spec.groups }))]);
      t.equal(r.status, 0, `${s}: promtool check rules:\n${r.output}`);
    }
  }
});

t.test('the dashboard parses and every query is valid PromQL on known metrics', async (t) => {
  const dashboard = JSON.parse(readFileSync(join(CHART, 'dashboards/function.json'), 'utf8'));
  const rendered = byKind(render('dev').objects, 'ConfigMap').find((c) => c.metadata.labels?.grafana_dashboard === '1');
  t.ok(rendered, 'dev renders the dashboard ConfigMap with the sidecar label');
  t.same(JSON.parse(Object.values(rendered!.data!)[0]!), dashboard, 'the ConfigMap carries the dashboard JSON unchanged');

  const exprs: string[] = dashboard.panels.flatMap((p: { targets?: Array<{ expr: string }> }) => (p.targets ?? []).map((x) => x.expr));
  t.ok(exprs.length >= 10, `${exprs.length} queries`);
  // Grafana variables become literals for promtool.
  const concrete = (e: string) => e.replace(/\$__rate_interval/g, '5m').replace(/\$namespace/g, 'functions').replace(/\$service/g, 'fn');
  const dir = tempDir('dashboard');
  const file = writeTemp(dir, 'dashboard-rules.yaml', stringify({ groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: concrete(e) })) }] }));
  const r = run(tool('promtool'), ['check', 'rules', file]);
  t.equal(r.status, 0, `every dashboard query passes promtool:\n${r.output}`);

  const bases = [...functionMetrics(), ...knativeMetrics()];
  const recorded = groups().flatMap((g) => g.rules.map((x) => x.record).filter((x): x is string => !!x));
  const variableQueries: string[] = dashboard.templating.list
    .filter((v: { type: string }) => v.type === 'query')
    .map((v: { query: { query: string } }) => v.query.query.replace(/^label_values\((.*),\s*\w+\)$/, '$1'));
  for (const e of [...exprs, ...variableQueries]) {
    for (const n of metricNames(e)) t.ok(allowed(n, bases), `dashboard metric ${n} is exported by the function or Knative`);
  }
  for (const rule of groups().flatMap((g) => g.rules)) {
    for (const n of metricNames(rule.expr)) t.ok(allowed(n, bases) || recorded.includes(n), `rule metric ${n} is exported or recorded`);
  }
  // The panels the dashboard promises.
  const titles = dashboard.panels.map((p: { title: string }) => p.title).join('\n');
  for (const want of [/Request rate by route/, /5xx ratio by route/, /Latency/, /Cold-start phases/, /Desired vs actual pods/, /Queue depth/, /Secret refreshes/]) t.match(titles, want);
});

t.test('metricNames() finds metric names and nothing else', async (t) => {
  t.same(metricNames('sum by (route, le) (rate(a_b_bucket{x="y", z=~"5.."}[5m])) / on (pod) group_left c:d:e > 0.5 and time() - f'), ['a_b_bucket', 'c:d:e', 'f']);
  t.notOk(allowed('made_up_metric', ['http_server_request_duration_seconds']), 'an unknown name is refused');
});
