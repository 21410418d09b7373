// Variable validations, evaluated by OpenTofu itself with `tofu test`: the run blocks in
// platform/modules/<module>/tests/*.tftest.hcl feed bad values and expect exactly that
// variable's validation to fail (expect_failures). Providers cannot be installed here, so
// each test runs on a copy of the module's variables.tf and tests/ (validations need no
// provider); the composition's baseline is each environment's own values.
import { cpSync, copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { COMPOSITION, ENVS, PLATFORM, output, parseTfvars, run, tool } from './helpers.ts';

const MODULES_WITH_TESTS = readdirSync(join(PLATFORM, 'modules')).filter((m) => existsSync(join(PLATFORM, 'modules', m, 'tests')));

function variablesOnly(t: { teardown(fn: () => void): void }, tofu: string, module: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tofu-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(module, 'variables.tf'), join(dir, 'variables.tf'));
  if (existsSync(join(module, 'tests'))) cpSync(join(module, 'tests'), join(dir, 'tests'), { recursive: true });
  const init = run(tofu, [`-chdir=${dir}`, 'init', '-input=false', '-no-color']);
  if (init.status !== 0) throw new Error(`tofu init of the variables-only copy failed\n${output(init)}`);
  return dir;
}

/** An environment's values (the module call's arguments) as a JSON var file. */
async function valuesFile(dir: string, env: (typeof ENVS)[number]): Promise<string> {
  const file = join(dir, `${env}.tfvars.json`);
  writeFileSync(file, JSON.stringify(await parseTfvars(env)));
  return file;
}

const runBlocks = (dir: string): number =>
  readdirSync(join(dir, 'tests'))
    .filter((f) => f.endsWith('.tftest.hcl'))
    .reduce((n, f) => n + (readFileSync(join(dir, 'tests', f), 'utf8').match(/^run "/gm) ?? []).length, 0);

t.test('tofu test: every module validation rejects the likely mistakes and accepts good values', async (t) => {
  const tofu = tool('tofu');
  if (!tofu) return t.fail('bin/tofu is missing: run make tools');
  t.ok(MODULES_WITH_TESTS.includes('platform') && MODULES_WITH_TESTS.length >= 3, `modules with tests: ${MODULES_WITH_TESTS.join(', ')}`);
  for (const m of MODULES_WITH_TESTS) {
    const dir = variablesOnly(t, tofu, join(PLATFORM, 'modules', m));
    const args = [`-chdir=${dir}`, 'test', '-no-color'];
    if (m === 'platform') args.push(`-var-file=${await valuesFile(dir, 'dev')}`);
    const r = run(tofu, args);
    const runs = runBlocks(dir);
    t.equal(r.status, 0, `modules/${m}: tofu test passes\n${output(r)}`);
    t.match(r.stdout, new RegExp(`Success! ${runs} passed, 0 failed`), `modules/${m}: all ${runs} runs passed`);
    t.ok(runs >= 2, `modules/${m}: has runs`);
  }
});

t.test('each environment sets every required variable and its values pass every type and validation', async (t) => {
  const tofu = tool('tofu');
  if (!tofu) return t.fail('bin/tofu is missing: run make tools');
  const dir = variablesOnly(t, tofu, COMPOSITION);
  rmSync(join(dir, 'tests'), { recursive: true, force: true });
  for (const env of ENVS) {
    const r = run(tofu, [`-chdir=${dir}`, 'plan', '-input=false', '-lock=false', '-no-color', `-var-file=${await valuesFile(dir, env)}`]);
    t.equal(r.status, 0, `${env}: tofu plan accepts the values\n${output(r)}`);
  }
  const none = run(tofu, [`-chdir=${dir}`, 'plan', '-input=false', '-lock=false', '-no-color']);
  t.not(none.status, 0, 'without values: refused');
  t.match(none.stderr.replace(/\s+/g, ' '), /No value for required variable/, output(none));
});

t.test('the commented cross-account examples are valid values once uncommented', async (t) => {
  const tofu = tool('tofu');
  if (!tofu) return t.fail('bin/tofu is missing: run make tools');
  const dir = variablesOnly(t, tofu, COMPOSITION);
  rmSync(join(dir, 'tests'), { recursive: true, force: true });
  for (const [env, name] of [['dev', 'ecr_pull_principal_arns'], ['prod', 'ecr_pull_repository_arns']] as const) {
    const text = readFileSync(join(PLATFORM, 'envs', env, 'main.tf'), 'utf8');
    const example = new RegExp(`^\\s*# (${name} = \\[.*\\])$`, 'm').exec(text)?.[1];
    t.ok(example, `envs/${env}/main.tf shows a commented ${name} example`);
    if (!example) continue;
    const e = run(tofu, [`-chdir=${dir}`, 'plan', '-input=false', '-lock=false', '-no-color', `-var-file=${await valuesFile(dir, env)}`, `-var=${example.replace(/\s*=\s*/, '=')}`]);
    t.equal(e.status, 0, `${env}: the example ${example} is accepted\n${output(e)}`);
  }
});
