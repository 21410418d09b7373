// Knative's own admission rules on the rendered Services: scripts/knative-validate (Go, pinned to the platform's
// knative.dev/serving) decodes strictly, runs SetDefaults and Validate within a create, as the webhook does, and
// fails on errors and on warnings such as "Kubernetes default value is insecure".
import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOT, knativeService, parseObjects, render, run, scenarios, tempDir, versions, writeTemp } from './helpers.ts';

const SRC = join(ROOT, 'scripts/knative-validate');

// A cold build compiles knative.dev/serving and its Kubernetes dependencies: minutes on 2 cores, more than the
// suite's default per-file timeout. Later runs reuse the binary in .cache/ and take seconds.
t.setTimeout(20 * 60 * 1000);

/** Builds the validator once per source version into .cache/ (a Go build of knative.dev/serving takes minutes). */
function buildValidator(comment: (msg: string) => void): string {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(readFileSync(join(SRC, f)));
  const goVersion = run('go', ['version']);
  if (goVersion.status !== 0) throw new Error(`go is not on PATH (${goVersion.output}): install Go, then run make tools`);
  hash.update(goVersion.stdout);
  const dir = join(ROOT, '.cache/knative-validate', hash.digest('hex').slice(0, 16));
  const bin = join(dir, 'knative-validate');
  if (existsSync(bin)) {
    comment(`knative-validate: cached build ${bin}`);
    return bin;
  }
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  const r = run('go', ['build', '-o', tmp, '.'], { cwd: SRC, env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly' } });
  if (r.status !== 0) throw new Error(`go build of scripts/knative-validate failed:\n${r.output}`);
  renameSync(tmp, bin);
  comment(`knative-validate: built in ${(r.ms / 1000).toFixed(1)} s (first build; later runs reuse ${bin})`);
  return bin;
}

t.test('scripts/knative-validate is pinned to the platform versions', async (t) => {
  const mod = readFileSync(join(SRC, 'go.mod'), 'utf8');
  const v = versions();
  t.match(mod, new RegExp(`^\\s*knative\\.dev/serving ${v.knative.servingModule.replace(/\./g, '\\.')}$`, 'm'), `knative.dev/serving ${v.knative.servingModule} (platform/versions.json)`);
  for (const m of ['k8s.io/api', 'k8s.io/apimachinery', 'k8s.io/client-go']) {
    t.match(mod, new RegExp(`^\\s*${m.replace(/\./g, '\\.')} ${v.kubernetes.k8sGoModules.replace(/\./g, '\\.')}( // indirect)?$`, 'm'), `${m} ${v.kubernetes.k8sGoModules}`);
  }
  t.notMatch(mod, /^replace /m, 'no replace directives');
});

t.test('Knative validation', async (t) => {
  const bin = buildValidator((m) => t.comment(m));
  const dir = tempDir('knative');

  /** Runs the validator on one YAML text. */
  const validate = (name: string, text: string) => run(bin, [writeTemp(dir, name, text)]);

  t.test('rejects what the webhook rejects (the validator can fail)', async (t) => {
    const { objects } = render('default');
    const base = knativeService(objects);
    const insecure = structuredClone(base);
    delete insecure.spec.template.spec.containers[0].securityContext;
    let r = validate('insecure.yaml', stringify(insecure));
    t.equal(r.status, 1, 'insecure defaults fail');
    t.match(r.stdout, /WARNING .*default value is insecure.*securityContext/s, `a warning names the field:\n${r.output}`);

    const reserved = structuredClone(base);
    reserved.spec.template.spec.containers[0].env.push({ name: 'PORT', value: '8080' });
    r = validate('reserved.yaml', stringify(reserved));
    t.equal(r.status, 1, 'a PORT env fails');
    t.match(r.stdout, /ERROR .*reserved.*env\[\d+\]\.name/s, `names the env entry:\n${r.output}`);

    const unknown = structuredClone(base);
    unknown.spec.template.spec.containers[0].healthCheck = { path: '/healthz' };
    r = validate('unknown.yaml', stringify(unknown));
    t.equal(r.status, 1, 'an unknown field fails (strict decoding, as the webhook)');
    t.match(r.stdout, /unknown field "healthCheck"/, `names the field:\n${r.output}`);
  });

  // The cluster's feature flags: the platform's Knative Serving values (config-features), read from their one home.
  const platformValues = join(ROOT, 'platform/charts/knative-serving/values.yaml');
  const features = parse(readFileSync(platformValues, 'utf8'))?.features;
  const featuresFile = writeTemp(dir, 'features.json', JSON.stringify(features ?? {}));

  t.test('the platform configures feature flags to validate against', async (t) => {
    t.type(features, 'object', `platform/charts/knative-serving/values.yaml has a features map`);
    t.equal(features?.['kubernetes.podspec-volumes-emptydir'], 'enabled', 'emptyDir volumes (the chart mounts /tmp) are enabled');
  });

  for (const scenario of scenarios()) {
    t.test(`${scenario}: zero errors and zero warnings`, async (t) => {
      const { yaml } = render(scenario);
      const objects = parseObjects(yaml).filter((o) => o.apiVersion.startsWith('serving.knative.dev/')).length;
      const file = writeTemp(dir, `${scenario}.yaml`, yaml);
      for (const [config, args] of [
        ["Knative's built-in defaults", [file]],
        ["the platform's config-features", ['-features', featuresFile, file]],
      ] as const) {
        const r = run(bin, [...args]);
        t.equal(r.status, 0, `${config}: knative-validate passes:\n${r.output}`);
        t.notMatch(r.stdout, /^(ERROR|WARNING)/m, `${config}: no finding`);
        t.match(r.stdout, new RegExp(`${objects} Knative object\\(s\\) checked, 0 with errors`), `${config}: every Knative object checked:\n${r.stdout}`);
      }
    });
  }

  t.test('Knative names the annotation when scale bounds are inverted past the chart', async (t) => {
    // The chart refuses this itself (see mistakes.test.ts); here the manifest is edited after rendering, as a
    // hand-edited or patched manifest would be, and Knative's rules still name the keys.
    const ksvc = knativeService(render('default').objects);
    ksvc.spec.template.metadata.annotations['autoscaling.knative.dev/min-scale'] = '5';
    ksvc.spec.template.metadata.annotations['autoscaling.knative.dev/max-scale'] = '2';
    const r = validate('minmax.yaml', stringify(ksvc));
    t.equal(r.status, 1, 'fails');
    t.match(r.stdout, /max-scale=2 is less than min-scale=5.*autoscaling\.knative\.dev\/max-scale/s, `names the annotation:\n${r.output}`);
  });
});
