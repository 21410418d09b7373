// checkov (Terraform framework, no download, no API key) on some of platform/: zero
// failures. Every skip is an inline `# checkov:skip=ID: reason` inside the resource it
// concerns (structure.test.ts checks that each one states a reason). Split over two test
// files so that the slow scans run in parallel within the per-file timeout.
import { join } from 'node:path';
import type { Test } from 'tap';
import { PLATFORM, output, run, tool } from './helpers.ts';

interface Report {
  check_type: string;
  summary: { passed: number; failed: number; skipped: number; parsing_errors: number };
  results: { failed_checks: { check_id: string; resource: string; file_path: string; file_line_range: number[] }[] };
}


export function checkovClean(t: Test, dir: string): void {
  const checkov = tool('checkov');
  if (!checkov) {
    t.fail('bin/checkov is missing: run make tools');
    return;
  }
  const r = run(checkov, ['-d', join(PLATFORM, dir), '--framework', 'terraform', '--skip-download', '--quiet', '--compact', '-o', 'json'], {
    env: { CKV_SKIP_PACKAGE_UPDATE_CHECK: 'true', BC_SKIP_MAPPING: 'TRUE', ANSI_COLORS_DISABLED: '1' },
    timeout: 290_000,
  });
  let reports: Report[];
  try {
    const parsed = JSON.parse(r.stdout) as Report | Report[];
    reports = Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    t.fail(`checkov did not print a JSON report for ${dir}\n${output(r)}`);
    return;
  }
  const tf = reports.find((x) => x.check_type === 'terraform');
  if (!tf) {
    t.fail(`no terraform report for ${dir}\n${output(r)}`);
    return;
  }
  const failed = tf.results.failed_checks.map((c) => `${c.check_id} ${c.resource} (${c.file_path}:${c.file_line_range.join('-')})`);
  t.same(failed, [], `checkov failures in ${dir}:\n${failed.join('\n')}`);
  t.equal(tf.summary.parsing_errors, 0, 'every file parsed');
  t.ok(tf.summary.passed > 20, `checkov ran its checks on ${dir} (${tf.summary.passed} passed, ${tf.summary.skipped} skipped with reasons)`);
}
