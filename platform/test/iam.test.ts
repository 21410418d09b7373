// Every IAM policy document the platform renders (each aws_iam_policy_document in platform/, dynamic statements
// expanded with the values their callers pass), turned into the JSON AWS receives with placeholder account, region
// and names, and checked by parliament (IAM policy linter, offline: actions, condition keys per action, condition
// value types and resource ARN formats against its bundled IAM definitions). Plus the trust policy shape AWS
// documents for EKS Pod Identity roles.
import { join } from 'node:path';
import t from 'tap';
import { PLATFORM, output, parseDir, rel, run, terraformDirs, tool, type Body } from './helpers.ts';

const ACCOUNT = '111111111111';
const REGION = 'eu-west-1';
const NAME = 'knfn-dev';
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0b1e8c3e-1111-4222-8333-944445555666`;

// What each reference inside a policy document stands for: realistic values in the formats AWS expects, so that
// parliament's ARN and type checks mean something. A reference missing here fails the test (add it with a value of
// the right form).
const REFS: Record<string, unknown> = {
  'data.aws_partition.current.partition': 'aws',
  'data.aws_region.current.region': REGION,
  'data.aws_caller_identity.current.account_id': ACCOUNT,
  'local.arn_prefix': 'arn:aws',
  'local.region': REGION,
  'local.account': ACCOUNT,
  'local.account_root': `arn:aws:iam::${ACCOUNT}:root`,
  'local.log_arn_base': `arn:aws:logs:${REGION}:${ACCOUNT}`,
  'local.github_host': 'token.actions.githubusercontent.com',
  'local.provider_arn': `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`,
  'local.cluster_arn': `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/${NAME}`,
  'local.secret_arn_pattern': `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${NAME}/fn-??????`,
  'local.external_dns_namespace': 'external-dns',
  'local.external_dns_sa': 'external-dns',
  'module.kms_key.arn': KEY_ARN,
  'aws_s3_bucket.state.arn': 'arn:aws:s3:::knfn-tfstate-111111111111-eu-west-1',
  'var.name': NAME,
  'var.cluster_name': NAME,
  'var.namespace': 'functions',
  'var.service_account': 'fn',
  'var.route53_zone_id': 'Z00000000000000000DEV',
  'var.github_repository': 'example-org/knative-fn',
  'var.github_environment': 'dev',
  'var.outputs_parameter_name': '/knfn/dev/platform-outputs',
  'var.ecr_repository_arn': `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${NAME}/fn`,
  'var.ecr_pull_repository_arns': [`arn:aws:ecr:${REGION}:222222222222:repository/knfn-dev/fn`],
  'var.ecr_pull_principal_arns': ['arn:aws:iam::222222222222:role/knfn-prod-deploy'],
  'aws_secretsmanager_secret.this.name': `${NAME}/fn`,
};

type Scope = Record<string, unknown>;

/** Replaces every ${ref} of an HCL string; a string that is exactly one reference may become a list. */
function fill(v: unknown, scope: Scope, where: string): unknown {
  if (Array.isArray(v)) return v.flatMap((x) => (Array.isArray(fill(x, scope, where)) ? (fill(x, scope, where) as unknown[]) : [fill(x, scope, where)]));
  if (typeof v !== 'string') return v;
  const whole = /^\$\{([^${}]+)\}$/.exec(v);
  const lookup = (ref: string): unknown => {
    const key = ref.trim();
    if (key in scope) return scope[key];
    if (key in REFS) return REFS[key];
    throw new Error(`${where}: no placeholder for \${${key}} (add one to REFS in platform/test/iam.test.ts)`);
  };
  if (whole) return lookup(whole[1] as string);
  return v.replace(/\$\{([^${}]+)\}/g, (_, ref: string) => String(lookup(ref)));
}

interface Statement {
  Sid?: string;
  Effect: string;
  Action?: string[];
  NotAction?: string[];
  Resource?: string[];
  Principal?: Record<string, string[]>;
  Condition?: Record<string, Record<string, string[]>>;
}

function statement(s: Body, scope: Scope, where: string): Statement {
  const out: Statement = { Effect: String(fill(s.effect ?? 'Allow', scope, where)) };
  if (s.sid) out.Sid = String(fill(s.sid, scope, where));
  if (s.actions) out.Action = fill(s.actions, scope, where) as string[];
  if (s.not_actions) out.NotAction = fill(s.not_actions, scope, where) as string[];
  if (s.resources) out.Resource = fill(s.resources, scope, where) as string[];
  for (const p of (s.principals as Body[] | undefined) ?? []) {
    const type = String(p.type);
    out.Principal = { ...out.Principal, [type]: fill(p.identifiers, scope, where) as string[] };
  }
  for (const c of (s.condition as Body[] | undefined) ?? []) {
    const test = String(fill(c.test, scope, where));
    const variable = String(fill(c.variable, scope, where));
    out.Condition = { ...out.Condition, [test]: { ...out.Condition?.[test], [variable]: fill(c.values, scope, where) as string[] } };
  }
  return out;
}

interface Doc {
  name: string;
  kind: 'identity' | 'trust' | 'key' | 'resource';
  policy: { Version: string; Statement: Statement[] };
}

/** One aws_iam_policy_document as JSON, with its dynamic statements expanded once per item of each given list. */
function render(where: string, body: Body, dynamicItems: Scope[][]): Doc[] {
  const docs: Doc[] = [];
  for (const items of dynamicItems) {
    const statements = ((body.statement as Body[] | undefined) ?? []).map((s) => statement(s, {}, where));
    const dyn = ((body.dynamic as Body | undefined)?.statement as Body[] | undefined) ?? [];
    for (const d of dyn) for (const item of items) for (const c of d.content as Body[]) statements.push(statement(c, item, where));
    const principals = statements.flatMap((s) => Object.values(s.Principal ?? {}).flat());
    const assume = statements.some((s) => s.Action?.some((a) => a.startsWith('sts:AssumeRole')));
    const kind = assume ? 'trust' : statements.every((s) => s.Action?.every((a) => a.startsWith('kms:')) && s.Resource?.[0] === '*' && s.Principal) ? 'key' : principals.length ? 'resource' : 'identity';
    docs.push({ name: `${where}${dynamicItems.length > 1 ? ` #${docs.length + 1}` : ''}`, kind, policy: { Version: '2012-10-17', Statement: statements } });
  }
  return docs;
}

/** The dynamic statement items each caller of a module passes (e.g. the key module's service_statements). */
async function callerItems(moduleDir: string, variable: string): Promise<Scope[][]> {
  const lists: Scope[][] = [];
  for (const dir of terraformDirs()) {
    const h = await parseDir(dir);
    for (const [name, bodies] of Object.entries(h.module ?? {})) {
      const call = bodies[0] as Body;
      if (!String(call.source).endsWith(`/${moduleDir}`)) continue;
      const items = (call[variable] as Body[] | undefined) ?? [];
      const where = `${rel(dir)} module.${name}`;
      const flat = (prefix: string, o: Body): [string, unknown][] =>
        Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' && !Array.isArray(v) ? flat(`${prefix}.${k}`, v as Body) : [[`${prefix}.${k}`, fill(v, {}, where)]]));
      lists.push(items.map((i) => Object.fromEntries(flat('statement.value', i))) as Scope[]);
    }
  }
  return lists;
}

async function allDocs(): Promise<Doc[]> {
  const docs: Doc[] = [];
  for (const dir of terraformDirs()) {
    const h = await parseDir(dir);
    for (const [name, bodies] of Object.entries(h.data?.aws_iam_policy_document ?? {})) {
      const body = bodies[0] as Body;
      const dyn = (body.dynamic as Body | undefined)?.statement as Body[] | undefined;
      let items: Scope[][] = [[]];
      if (dyn?.some((d) => d.for_each === '${var.service_statements}')) items = await callerItems(rel(dir).split('/').pop() as string, 'service_statements');
      else if (dyn?.length) items = [[{}]];
      docs.push(...render(`${rel(dir)}: data.aws_iam_policy_document.${name}`, body, items));
    }
  }
  return docs;
}

/**
 * The JSON as aws_iam_policy_document renders it (a one-item list becomes a plain string), for parliament, which
 * analyses identity policies: each statement needs a Resource. A trust policy's resource is its role, a repository
 * policy's its repository (both are attached to the resource and carry none).
 */
function forParliament(d: Doc): object {
  const resource = d.kind === 'trust' ? `arn:aws:iam::${ACCOUNT}:role/${NAME}-role` : REFS['var.ecr_repository_arn'];
  const one = (v: unknown): unknown => (Array.isArray(v) && v.length === 1 ? v[0] : v);
  const deep = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v && typeof v === 'object' && !Array.isArray(v) ? deep(v as Record<string, unknown>) : one(v)]));
  return {
    Version: d.policy.Version,
    Statement: d.policy.Statement.map((s) => {
      const out = deep({ ...s, ...(s.Resource ? {} : { Resource: [resource] }) } as unknown as Record<string, unknown>);
      // principals { type = "*", identifiers = ["*"] } renders as "Principal": "*".
      if (JSON.stringify(s.Principal) === '{"*":["*"]}') out.Principal = '*';
      return out;
    }),
  };
}

interface Finding {
  issue: string;
  severity: string;
  detail: unknown;
}

function parliament(bin: string, policy: object): { findings: Finding[]; raw: string } {
  const r = run(bin, ['--json', '--minimum_severity', 'LOW', '--string', JSON.stringify(policy)], { timeout: 60_000 });
  if (r.status !== 0 && r.status !== 1) throw new Error(`parliament failed\n${output(r)}`);
  const findings = r.stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Finding);
  return { findings, raw: output(r) };
}

// Accepted, each with its reason:
// - a key policy's Resource "*" is the key itself (AWS's default key policy), not every resource;
// - GitHub's OIDC provider and its token.actions.githubusercontent.com:aud/:sub condition keys are outside
//   parliament's built-in list of federation sources; AWS documents them for GitHub Actions roles
//   (docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html, "Configuring a role for GitHub
//   OIDC identity provider").
const GITHUB_OIDC = /token\.actions\.githubusercontent\.com/;
const accepted = (d: Doc, f: Finding): boolean =>
  (d.kind === 'key' && f.issue === 'RESOURCE_STAR') ||
  (d.kind === 'trust' && ['UNKNOWN_FEDERATION_SOURCE', 'UNKNOWN_CONDITION_FOR_ACTION'].includes(f.issue) && GITHUB_OIDC.test(JSON.stringify(f.detail)));

t.test('every policy document the platform renders passes parliament', async (t) => {
  const bin = tool('parliament');
  if (!bin) return t.fail('.venv/bin/parliament is missing: run make tools');
  const docs = await allDocs();
  t.ok(docs.length >= 11, `policy documents found: ${docs.map((d) => `${d.name} (${d.kind})`).join(', ')}`);
  t.ok(docs.some((d) => d.kind === 'trust') && docs.some((d) => d.kind === 'key') && docs.some((d) => d.kind === 'identity') && docs.some((d) => d.kind === 'resource'), 'trust, key, identity and resource policies are all covered');
  for (const d of docs) {
    const { findings, raw } = parliament(bin, forParliament(d));
    const left = findings.filter((f) => !accepted(d, f));
    t.same(left.map((f) => `${f.issue}: ${JSON.stringify(f.detail)}`), [], `${d.name}: no finding\n${JSON.stringify(d.policy, null, 1)}\n${raw}`);
  }
});

t.test('parliament catches what it is there for (an unknown action, a condition key the action does not have)', async (t) => {
  const bin = tool('parliament');
  if (!bin) return t.fail('.venv/bin/parliament is missing: run make tools');
  const bad = {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['secretsmanager:GetSecretValues'], Resource: [REFS['local.secret_arn_pattern']] },
      { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [REFS['local.secret_arn_pattern']], Condition: { StringEquals: { 'kms:ViaService': ['x'] } } },
    ],
  };
  const issues = parliament(bin, bad).findings.map((f) => f.issue);
  t.ok(issues.includes('UNKNOWN_ACTION'), `a misspelt action is reported (${issues.join(', ')})`);
  t.ok(issues.includes('UNKNOWN_CONDITION_FOR_ACTION'), `a condition key the action does not support is reported (${issues.join(', ')})`);
});

// docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html: principal pods.eks.amazonaws.com, actions
// sts:AssumeRole and sts:TagSession; restrict with the session tags Pod Identity sets (pod-id-abac.html: eks-cluster-arn,
// kubernetes-namespace, kubernetes-service-account, ...) as aws:RequestTag/<tag> conditions.
t.test('every Pod Identity role trusts exactly as AWS documents: its cluster, namespace and service account by session tags', async (t) => {
  const docs = (await allDocs()).filter((d) => d.policy.Statement.some((s) => s.Principal?.Service?.includes('pods.eks.amazonaws.com')));
  t.ok(docs.length >= 2, `Pod Identity trust policies: ${docs.map((d) => d.name).join(', ')}`);
  for (const d of docs) {
    t.equal(d.policy.Statement.length, 1, `${d.name}: one statement`);
    const s = d.policy.Statement[0] as Statement;
    t.same(s.Principal, { Service: ['pods.eks.amazonaws.com'] }, `${d.name}: only the Pod Identity service`);
    t.same([...(s.Action ?? [])].sort(), ['sts:AssumeRole', 'sts:TagSession'], `${d.name}: AssumeRole and TagSession`);
    t.same(Object.keys(s.Condition ?? {}), ['StringEquals'], `${d.name}: StringEquals conditions only`);
    const eq = s.Condition?.StringEquals ?? {};
    t.same(eq['aws:RequestTag/eks-cluster-arn'], [REFS['local.cluster_arn']], `${d.name}: this cluster (session tag eks-cluster-arn)`);
    t.equal(eq['aws:RequestTag/kubernetes-namespace']?.length, 1, `${d.name}: one namespace (session tag kubernetes-namespace)`);
    t.equal(eq['aws:RequestTag/kubernetes-service-account']?.length, 1, `${d.name}: one service account (session tag kubernetes-service-account)`);
    const keys = Object.values(s.Condition ?? {}).flatMap((c) => Object.keys(c));
    t.notOk(keys.includes('aws:SourceArn'), `${d.name}: no aws:SourceArn (Pod Identity documents none for a cluster ARN)`);
    t.same(keys.filter((k) => !k.startsWith('aws:RequestTag/') && k !== 'aws:SourceAccount'), [], `${d.name}: no other condition key`);
  }
  // The function's trust is bound to the namespace and service account its Pod Identity association names.
  const fn = await parseDir(join(PLATFORM, 'modules', 'function'));
  const trust = ((fn.data?.aws_iam_policy_document?.trust?.[0] as Body).statement as Body[])[0] as Body;
  const conds = Object.fromEntries((trust.condition as Body[]).map((c) => [c.variable, c.values]));
  const assoc = fn.resource?.aws_eks_pod_identity_association?.this?.[0] as Body;
  t.same(conds['aws:RequestTag/kubernetes-namespace'], [assoc.namespace], 'function: trusted namespace = associated namespace');
  t.same(conds['aws:RequestTag/kubernetes-service-account'], [assoc.service_account], 'function: trusted service account = associated service account');
});
