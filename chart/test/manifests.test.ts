// Rendered manifests against the API schemas: kubeconform -strict with Kubernetes of the platform's version and the
// Knative Serving and prometheus-operator CRDs, all pinned and offline (`make tools`).
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, parseObjects, render, run, scenarios, tempDir, tool, writeTemp } from './helpers.ts';

const SCHEMAS = join(BIN, 'schemas');

function schemaLocations(): string[] {
  for (const d of ['k8s/standard-strict', 'crds']) {
    if (!existsSync(join(SCHEMAS, d))) throw new Error(`${join(SCHEMAS, d)} is missing: run make tools`);
  }
  return [
    '-schema-location',
    `${SCHEMAS}/k8s/standard{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json`,
    '-schema-location',
    `${SCHEMAS}/crds/{{.ResourceKind}}{{.KindSuffix}}.json`,
  ];
}

for (const scenario of scenarios()) {
  t.test(`kubeconform -strict (${scenario})`, async (t) => {
    const { yaml } = render(scenario);
    const dir = tempDir(`kc-${scenario}`);
    const file = writeTemp(dir, 'manifests.yaml', yaml);
    const r = run(tool('kubeconform'), ['-strict', '-summary', '-output', 'text', ...schemaLocations(), file]);
    t.equal(r.status, 0, `kubeconform passes:\n${r.output}`);
    // No kind may slip through for want of a schema: every object counted as valid.
    const count = parseObjects(yaml).length;
    t.match(r.stdout, new RegExp(`Valid: ${count}, Invalid: 0, Errors: 0, Skipped: 0`), `all ${count} objects validated:\n${r.output}`);
  });
}

t.test('kubeconform catches a wrong field (the check can fail)', async (t) => {
  const bad = render('default').yaml.replace('containerConcurrency:', 'containerConcurency:');
  const r = run(tool('kubeconform'), ['-strict', ...schemaLocations(), writeTemp(tempDir('kc-bad'), 'bad.yaml', bad)]);
  t.not(r.status, 0, 'fails');
  t.match(r.output, /containerConcurency/, r.output);
});
