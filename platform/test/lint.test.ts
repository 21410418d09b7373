// Formatting and linting of the Terraform code with the project's pinned tools:
// `tofu fmt -check`, tflint (recommended Terraform rules + AWS ruleset, local plugin,
// no downloads) in every module and root, shellcheck on the platform driver.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { PLATFORM, ROOT, output, rel, run, terraformDirs, tool } from './helpers.ts';

const TFLINT_CONFIG = join(PLATFORM, '.tflint.hcl');
const tflintEnv = { TFLINT_DISABLE_VERSION_CHECK: '1' };

t.test('tofu fmt -check -recursive platform/', async (t) => {
  const tofu = tool('tofu');
  if (!tofu) return t.fail('bin/tofu is missing: run make tools');
  const r = run(tofu, ['fmt', '-check', '-recursive', '-diff', PLATFORM]);
  t.equal(r.status, 0, `every .tf/.tfvars file is formatted\n${output(r)}`);
});

t.test('tflint: every module and environment root is clean', async (t) => {
  const tflint = tool('tflint');
  if (!tflint) return t.fail('bin/tflint is missing: run make tools');
  for (const dir of terraformDirs()) {
    const r = run(tflint, [`--chdir=${dir}`, `--config=${TFLINT_CONFIG}`, '--format=compact'], { env: tflintEnv });
    t.equal(r.status, 0, `${rel(dir)}: tflint reports nothing\n${output(r)}`);
  }
});

t.test('tflint really runs both rulesets (a bad fixture is rejected)', async (t) => {
  const tflint = tool('tflint');
  if (!tflint) return t.fail('bin/tflint is missing: run make tools');
  const dir = mkdtempSync(join(tmpdir(), 'tflint-fixture-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'main.tf'),
    [
      'terraform {',
      '  required_version = ">= 1.11.0"',
      '  required_providers {',
      '    aws = {',
      '      source  = "hashicorp/aws"',
      '      version = "~> 6.0"',
      '    }',
      '  }',
      '}',
      '',
      'variable "untyped" {}',
      '',
      'resource "aws_instance" "bad" {',
      '  ami           = "ami-0123456789abcdef0"',
      '  instance_type = "t1.superlarge"',
      '  tags          = { v = var.untyped }',
      '}',
      '',
    ].join('\n'),
  );
  const r = run(tflint, [`--chdir=${dir}`, `--config=${TFLINT_CONFIG}`, '--format=compact'], { env: tflintEnv });
  t.not(r.status, 0, 'tflint fails on the fixture');
  t.match(r.stdout + r.stderr, /terraform_typed_variables/, 'the Terraform ruleset (recommended preset) is active');
  t.match(r.stdout + r.stderr, /aws_instance_invalid_type/, 'the AWS ruleset plugin is loaded');
});

t.test('shellcheck scripts/platform.sh', async (t) => {
  const shellcheck = tool('shellcheck');
  if (!shellcheck) return t.fail('bin/shellcheck is missing: run make tools');
  const r = run(shellcheck, [join(ROOT, 'scripts', 'platform.sh')]);
  t.equal(r.status, 0, output(r));
});
