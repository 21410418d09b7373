// The chart's helm-unittest suites (chart/unittests/*_test.yaml) pass, and they can fail: the same suites against a
// copy of the chart whose restricted securityContext is loosened report a failure.
import t from 'tap';
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHART, run, tempDir, tool } from './helpers.ts';

const SUITES = 'unittests/*_test.yaml';

function unittest(chart: string) {
  return run(tool('helm-unittest'), ['--strict', '--file', SUITES, chart]);
}

t.test('helm-unittest suites pass', async (t) => {
  const suites = readdirSync(join(CHART, 'unittests')).filter((f) => f.endsWith('_test.yaml'));
  t.ok(suites.length > 0, `suites in chart/unittests: ${suites.join(', ')}`);
  const r = unittest(CHART);
  t.equal(r.status, 0, `helm-unittest passes:\n${r.output}`);
  t.match(r.output, /Tests:\s+\d+ passed, \d+ total/, `every test ran:\n${r.output}`);
  t.notMatch(r.output, /Tests:\s+\d+ failed/, 'no failed test');
});

t.test('the suites fail on a chart that loosens the securityContext', async (t) => {
  const copy = join(tempDir('unittest'), 'chart');
  cpSync(CHART, copy, { recursive: true });
  const values = join(copy, 'values.yaml');
  const loosened = readFileSync(values, 'utf8').replace('readOnlyRootFilesystem: true', 'readOnlyRootFilesystem: false');
  t.not(loosened, readFileSync(values, 'utf8'), 'the copy is loosened');
  writeFileSync(values, loosened);
  const r = unittest(copy);
  t.not(r.status, 0, `helm-unittest fails:\n${r.output}`);
  t.match(r.output, /restricts the container fully/, 'the failing test is named');
});
