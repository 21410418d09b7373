// Variable validations, evaluated by OpenTofu itself. Providers cannot be downloaded
// here, so `tofu validate`/`plan` of the real roots is impossible offline; a root made
// of an environment's variables.tf alone needs no provider, so `tofu plan` on it
// evaluates every type constraint and validation rule against the real
// terraform.tfvars, and against the bad values a person is likely to type.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ENVS, PLATFORM, output, run, tool } from './helpers.ts';

const flat = (s: string): string => s.replace(/[│╷╵]/g, ' ').replace(/\s+/g, ' ');

function stubRoot(t: { teardown(fn: () => void): void }, tofu: string, variablesFrom: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tofu-vars-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(variablesFrom, 'variables.tf'), join(dir, 'variables.tf'));
  const init = run(tofu, [`-chdir=${dir}`, 'init', '-input=false', '-no-color']);
  if (init.status !== 0) throw new Error(`tofu init of the variables-only root failed\n${output(init)}`);
  return dir;
}

const plan = (tofu: string, dir: string, args: string[]) =>
  run(tofu, [`-chdir=${dir}`, 'plan', '-input=false', '-lock=false', '-no-color', ...args]);

t.test('dev and prod terraform.tfvars satisfy every type and validation, and set every required variable', async (t) => {
  const tofu = tool('tofu');
  if (!tofu) return t.fail('bin/tofu is missing: run make tools');
  for (const env of ENVS) {
    const dir = stubRoot(t, tofu, join(PLATFORM, 'envs', env));
    const r = plan(tofu, dir, [`-var-file=${join(PLATFORM, 'envs', env, 'terraform.tfvars')}`]);
    t.equal(r.status, 0, `${env}: tofu plan accepts terraform.tfvars\n${output(r)}`);
  }
});

t.test('a missing required variable stops tofu with its name', async (t) => {
  const tofu = tool('tofu');
  if (!tofu) return t.fail('bin/tofu is missing: run make tools');
  const dir = stubRoot(t, tofu, join(PLATFORM, 'envs', 'dev'));
  const r = plan(tofu, dir, []);
  t.not(r.status, 0, 'plan without tfvars fails');
  t.match(flat(r.stderr), /No value for required variable/, output(r));
});

// [variable, bad value as -var text, part of the message the person sees]
const BAD: [string, string, RegExp][] = [
  ['environment', 'staging', /environment must be "dev" or "prod"/],
  ['project', 'Knative_FN', /project must be 2-12 characters/],
  ['aws_region', 'Ireland', /aws_region must be an AWS region code/],
  ['vpc_cidr', '10.0.0.0/8', /vpc_cidr must be a private IPv4 CIDR .* between \/16 and \/20/],
  ['vpc_cidr', '8.8.0.0/16', /vpc_cidr must be a private IPv4 CIDR/],
  ['vpc_cidr', '10.40.0.0', /vpc_cidr must be a private IPv4 CIDR/],
  ['az_count', '1', /az_count must be 2 or 3/],
  ['cluster_endpoint_public_access_cidrs', '["0.0.0.0/0"]', /never 0\.0\.0\.0\/0/],
  ['cluster_endpoint_public_access_cidrs', '["203.0.113.300/32"]', /valid IPv4 CIDRs/],
  ['admin_principal_arns', '["platform-admin"]', /IAM role ARN like/],
  ['admin_principal_arns', '[]', /at least one IAM role ARN/],
  ['github_repository', 'https://github.com/acme/fn', /github_repository must be "owner\/name"/],
  ['domain', 'https://fn.example.com', /domain must be a lowercase DNS name/],
  ['domain', '*.fn.example.com', /domain must be a lowercase DNS name/],
  ['domain', 'fn.example.com.', /domain must be a lowercase DNS name/],
  ['route53_zone_id', 'fn.example.com', /route53_zone_id must be a hosted zone ID/],
  ['node_instance_sizes', '["micro"]', /node_instance_sizes must be a non-empty list/],
  ['node_instance_categories', '["p"]', /node_instance_categories must be/],
  ['node_capacity_types', '["reserved"]', /node_capacity_types must be/],
  ['node_architecture', 'x86_64', /node_architecture must be "arm64" or "amd64"/],
  ['log_retention_days', '10', /log_retention_days must be one of CloudWatch's retention values/],
  ['kms_deletion_window_days', '3', /kms_deletion_window_days must be between 7 and 30/],
  ['scale_to_zero_grace_period', '1s', /between 6s and 10m/],
  ['scale_to_zero_grace_period', '30', /between 6s and 10m/],
  ['knative_tracing_sampling_rate', '10', /between 0 and 1/],
  ['prometheus_retention', '30 days', /prometheus_retention must be a duration/],
  ['prometheus_storage_size', '20GB', /size in Gi/],
  ['secret_recovery_window_days', '3', /0 or between 7 and 30/],
  ['signing_key_version', '0', /positive integer/],
  ['function_namespace', 'Functions', /DNS label/],
  ['github_oidc_provider_arn', 'arn:aws:iam::123456789012:oidc-provider/example.com', /oidc-provider\/token\.actions\.githubusercontent\.com/],
  ['ecr_pull_principal_arns', '["*"]', /ecr_pull_principal_arns must hold IAM role, user or account root ARNs/],
  ['ecr_pull_principal_arns', '["222222222222"]', /ecr_pull_principal_arns must hold IAM role, user or account root ARNs/],
  ['ecr_pull_principal_arns', '["arn:aws:iam::2222:role/knfn-prod-deploy"]', /ecr_pull_principal_arns must hold IAM role/],
  ['ecr_pull_principal_arns', '["arn:aws:iam::222222222222:role/*"]', /ecr_pull_principal_arns must hold IAM role/],
  ['ecr_pull_principal_arns', '["arn:aws:sts::222222222222:assumed-role/knfn-prod-deploy/ci"]', /ecr_pull_principal_arns must hold IAM role/],
  ['ecr_pull_repository_arns', '["arn:aws:ecr:eu-west-1:111111111111:repository/*"]', /ecr_pull_repository_arns must hold ECR repository ARNs/],
  ['ecr_pull_repository_arns', '["111111111111.dkr.ecr.eu-west-1.amazonaws.com/knfn-dev/fn"]', /ecr_pull_repository_arns must hold ECR repository ARNs/],
];

t.test('likely mistakes are rejected with a message that names the variable', async (t) => {
  const tofu = tool('tofu');
  if (!tofu) return t.fail('bin/tofu is missing: run make tools');
  const dir = stubRoot(t, tofu, join(PLATFORM, 'envs', 'dev'));
  const tfvars = `-var-file=${join(PLATFORM, 'envs', 'dev', 'terraform.tfvars')}`;
  // OpenTofu reports every invalid variable of a run, so the cases go in rounds in which
  // each variable appears once: a few plans instead of one per case.
  const rounds: (typeof BAD)[] = [];
  for (const c of BAD) {
    const round = rounds.find((r) => !r.some(([name]) => name === c[0]));
    if (round) round.push(c);
    else rounds.push([c]);
  }
  for (const round of rounds) {
    const r = plan(tofu, dir, [tfvars, ...round.map(([name, value]) => `-var=${name}=${value}`)]);
    t.not(r.status, 0, `plan with ${round.length} bad values fails`);
    const text = flat(r.stderr);
    for (const [name, value, message] of round) {
      t.match(text, message, `${name}=${value}: the message says what is wrong\n${output(r)}`);
      t.match(text, new RegExp(`var\\.${name}\\b`), `${name}=${value}: the error points at var.${name}`);
    }
    const reported = (text.match(/Invalid value for variable/g) ?? []).length;
    t.equal(reported, round.length, `one error per bad value (${round.length})`);
  }
});

t.test('module-level invariants hold for the values the roots pass', async (t) => {
  const tofu = tool('tofu');
  if (!tofu) return t.fail('bin/tofu is missing: run make tools');
  const knative = stubRoot(t, tofu, join(PLATFORM, 'modules', 'knative'));
  const good = [
    '-var=knative_version=1.23.0',
    '-var=operator_chart_version=v1.23.0',
    '-var=domain=dev.fn.example.com',
    '-var=certificate_arn=arn:aws:acm:eu-west-1:111111111111:certificate/x',
    '-var=high_availability_replicas=2',
    '-var=scale_to_zero_grace_period=30s',
    '-var=scale_to_zero_pod_retention_period=0s',
    '-var=tracing_sampling_rate=0.1',
    '-var=collector_url=http://otel-collector.observability.svc.cluster.local:4318',
  ];
  const ok = plan(tofu, knative, good);
  t.equal(ok.status, 0, `knative module accepts good values\n${output(ok)}`);
  const bad = plan(tofu, knative, [...good, '-var=knative_version=v1.23.0']);
  t.not(bad.status, 0, 'knative_version with a leading v is rejected');
  t.match(flat(bad.stderr), /knative_version must be a release number like "1\.23\.0"/, output(bad));
});

t.test('cross-account pull: the documented forms of principal and repository ARNs are accepted', async (t) => {
  const tofu = tool('tofu');
  if (!tofu) return t.fail('bin/tofu is missing: run make tools');
  const dir = stubRoot(t, tofu, join(PLATFORM, 'envs', 'dev'));
  const r = plan(tofu, dir, [
    `-var-file=${join(PLATFORM, 'envs', 'dev', 'terraform.tfvars')}`,
    '-var=ecr_pull_principal_arns=["arn:aws:iam::222222222222:role/knfn-prod-deploy","arn:aws:iam::222222222222:role/ci/deployer","arn:aws:iam::222222222222:user/release","arn:aws:iam::222222222222:root"]',
    '-var=ecr_pull_repository_arns=["arn:aws:ecr:eu-west-1:111111111111:repository/knfn-dev/fn"]',
  ]);
  t.equal(r.status, 0, `role, path role, user and root ARNs and a repository ARN pass\n${output(r)}`);
  // The commented examples in the tfvars files are valid values once uncommented.
  for (const [env, name] of [['dev', 'ecr_pull_principal_arns'], ['prod', 'ecr_pull_repository_arns']] as const) {
    const text = readFileSync(join(PLATFORM, 'envs', env, 'terraform.tfvars'), 'utf8');
    const example = new RegExp(`^# (${name} = \\[.*\\])$`, 'm').exec(text)?.[1];
    t.ok(example, `${env}/terraform.tfvars shows a commented ${name} example`);
    if (!example) continue;
    const e = plan(tofu, dir, [`-var-file=${join(PLATFORM, 'envs', env, 'terraform.tfvars')}`, `-var=${example.replace(/\s*=\s*/, '=')}`]);
    t.equal(e.status, 0, `${env}: the example ${example} is accepted\n${output(e)}`);
  }
});

t.test("the function module validates its pull principals itself (not only through the roots)", async (t) => {
  const tofu = tool('tofu');
  if (!tofu) return t.fail('bin/tofu is missing: run make tools');
  const fn = stubRoot(t, tofu, join(PLATFORM, 'modules', 'function'));
  const good = [
    '-var=name=knfn-dev',
    '-var=function_name=fn',
    '-var=namespace=functions',
    '-var=service_account=fn',
    '-var=cluster_name=knfn-dev',
    '-var=ecr_keep_images=20',
    '-var=ecr_untagged_expiry_days=3',
    '-var=ecr_force_delete=true',
    '-var=secret_recovery_window_days=0',
    '-var=signing_key_version=1',
    '-var=kms_deletion_window_days=7',
    '-var=tags={}',
  ];
  const ok = plan(tofu, fn, good);
  t.equal(ok.status, 0, `function module: no pull principals by default\n${output(ok)}`);
  const one = plan(tofu, fn, [...good, '-var=ecr_pull_principal_arns=["arn:aws:iam::222222222222:role/knfn-prod-deploy"]']);
  t.equal(one.status, 0, `function module: a role ARN is accepted\n${output(one)}`);
  const bad = plan(tofu, fn, [...good, '-var=ecr_pull_principal_arns=["*"]']);
  t.not(bad.status, 0, 'a wildcard principal is rejected');
  t.match(flat(bad.stderr), /ecr_pull_principal_arns must hold IAM role, user or account root ARNs/, output(bad));
});
