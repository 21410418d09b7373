// checkov's Kubernetes policies on the rendered manifests and on the pod Knative runs for the revision: zero failed
// checks; each skip is a checkov.io/skip annotation in the template that says why.
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { knativeService, render, run, scenarios, tempDir, tool, writeTemp, type K8sObject, type RunResult } from './helpers.ts';

/**
 * The Deployment Knative makes of a Service's revision template (same pod spec, Knative's pod labels), so that
 * checkov's workload policies, which do not know the Knative kind, see the pod that actually runs. The Service's
 * checkov.io/skip annotations travel with it.
 */
export function revisionWorkload(ksvc: K8sObject): K8sObject {
  const tmpl = ksvc.spec.template;
  const { containerConcurrency, timeoutSeconds, responseStartTimeoutSeconds, idleTimeoutSeconds, ...podSpec } = tmpl.spec;
  void [containerConcurrency, timeoutSeconds, responseStartTimeoutSeconds, idleTimeoutSeconds];
  const labels = { ...tmpl.metadata.labels, 'serving.knative.dev/service': ksvc.metadata.name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `${ksvc.metadata.name}-revision`, namespace: ksvc.metadata.namespace!, labels, annotations: ksvc.metadata.annotations ?? {} },
    spec: { selector: { matchLabels: labels }, template: { metadata: { labels, annotations: tmpl.metadata.annotations ?? {} }, spec: podSpec } },
  };
}

type CheckovResult = { check_id: string; file_path: string; resource: string };
type CheckovReport = { results: { passed_checks: CheckovResult[]; failed_checks: CheckovResult[]; skipped_checks: CheckovResult[] } };

/** Runs checkov once over a directory (it takes ~20 s to start) and returns its parsed JSON report. */
function checkov(dir: string): { r: RunResult; report: CheckovReport } {
  const r = run(tool('checkov'), ['--directory', dir, '--framework', 'kubernetes', '--output', 'json', '--skip-download'], {
    env: { ...process.env, CKV_SKIP_PACKAGE_UPDATE_CHECK: 'true', BC_SKIP_MAPPING: 'TRUE', LOG_LEVEL: 'WARNING' },
  });
  let report: CheckovReport;
  try {
    const parsed = JSON.parse(r.stdout);
    report = Array.isArray(parsed) ? parsed.find((x) => x.check_type === 'kubernetes') : parsed;
    if (!report?.results) throw new Error('no kubernetes results');
  } catch (e) {
    throw new Error(`checkov gave no JSON report (${String(e)}):\n${r.output}`);
  }
  return { r, report };
}

t.test('checkov: no failed check in any scenario, every skip justified inline', async (t) => {
  const dir = tempDir('checkov');
  const services = new Map<string, K8sObject>();
  for (const scenario of scenarios()) {
    const { yaml, objects } = render(scenario);
    const ksvc = knativeService(objects);
    services.set(scenario, ksvc);
    mkdirSync(join(dir, scenario));
    writeTemp(join(dir, scenario), 'manifests.yaml', yaml);
    writeTemp(join(dir, scenario), 'revision-workload.yaml', stringify(revisionWorkload(ksvc), { aliasDuplicateObjects: false }));
  }
  const { r, report } = checkov(dir);
  const fmt = (xs: CheckovResult[]) => xs.map((x) => `${x.check_id} ${x.resource} (${x.file_path})`).join('\n');
  for (const [scenario, ksvc] of services) {
    const mine = (xs: CheckovResult[]) => xs.filter((x) => x.file_path.startsWith(`/${scenario}/`));
    const failed = mine(report.results.failed_checks);
    t.same(failed.map((x) => x.check_id), [], `${scenario}: no failed check:\n${fmt(failed)}`);
    const passedOnPod = mine(report.results.passed_checks).filter((x) => x.file_path.endsWith('revision-workload.yaml'));
    t.ok(passedOnPod.length >= 50, `${scenario}: checkov's workload policies ran on the revision pod (${passedOnPod.length} passed)`);
    const skips = Object.entries(ksvc.metadata.annotations ?? {}).filter(([k]) => k.startsWith('checkov.io/skip'));
    for (const [k, v] of skips) t.match(v, /^CKV2?_K8S_\d+=\S.{20,}/, `${scenario}: ${k} names the check and says why`);
    const skipped = mine(report.results.skipped_checks).map((x) => x.check_id);
    for (const id of skipped) t.ok(skips.some(([, v]) => v.startsWith(`${id}=`)), `${scenario}: skipped ${id} is justified in the template`);
  }
  t.equal(r.status, 0, `checkov exit status 0:\n${fmt(report.results.failed_checks)}`);
});

t.test('checkov fails an insecure revision (the check can fail)', async (t) => {
  const ksvc = knativeService(render('default').objects);
  ksvc.spec.template.spec.containers[0].securityContext = { allowPrivilegeEscalation: true };
  const dir = tempDir('checkov-bad');
  writeTemp(dir, 'revision-workload.yaml', stringify(revisionWorkload(ksvc), { aliasDuplicateObjects: false }));
  const { r, report } = checkov(dir);
  t.not(r.status, 0, 'fails');
  t.ok(report.results.failed_checks.some((x) => x.check_id === 'CKV_K8S_20'), `names the privilege escalation check (failed: ${report.results.failed_checks.map((x) => x.check_id).join(", ")})`);
});
