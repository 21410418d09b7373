// checkov on platform/ (Terraform framework, no download, no API key): zero failures.
// Every skip is an inline `# checkov:skip=ID: reason` inside the resource it concerns
// (structure.test.ts checks that each one states a reason).
import t from 'tap';
import { PLATFORM, output, run, tool } from './helpers.ts';

interface Report {
  check_type: string;
  summary: { passed: number; failed: number; skipped: number; parsing_errors: number };
  results: { failed_checks: { check_id: string; resource: string; file_path: string; file_line_range: number[] }[] };
}

t.test('checkov: zero failed checks on platform/', async (t) => {
  const checkov = tool('checkov');
  if (!checkov) return t.fail('bin/checkov is missing: run make tools');
  const r = run(checkov, ['-d', PLATFORM, '--framework', 'terraform', '--skip-download', '--quiet', '--compact', '-o', 'json'], {
    env: { CKV_SKIP_PACKAGE_UPDATE_CHECK: 'true', BC_SKIP_MAPPING: 'TRUE', ANSI_COLORS_DISABLED: '1' },
    timeout: 480_000,
  });
  let reports: Report[];
  try {
    const parsed = JSON.parse(r.stdout) as Report | Report[];
    reports = Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    return t.fail(`checkov did not print a JSON report\n${output(r)}`);
  }
  const tf = reports.find((x) => x.check_type === 'terraform');
  if (!tf) return t.fail(`no terraform report\n${output(r)}`);
  const failed = tf.results.failed_checks.map((c) => `${c.check_id} ${c.resource} (${c.file_path}:${c.file_line_range.join('-')})`);
  t.same(failed, [], `checkov failures:\n${failed.join('\n')}`);
  t.equal(tf.summary.parsing_errors, 0, 'every file parsed');
  t.ok(tf.summary.passed > 100, `checkov ran its checks (${tf.summary.passed} passed, ${tf.summary.skipped} skipped with reasons)`);
});
