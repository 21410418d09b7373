// Structural checks on the Terraform code, read with @cdktf/hcl2json (the HCL parser
// Terraform's own JSON syntax mirrors). What they prove is listed in platform/README.md.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { COMPOSITION, ENVS, PLATFORM, parseDir, parseTfvars, rel, terraformDirs, tfFiles, versions, type Body } from './helpers.ts';

const first = (list: Body[] | undefined): Body => {
  if (!list || list.length !== 1) throw new Error(`expected exactly one block, got ${list?.length ?? 0}`);
  return list[0] as Body;
};

t.test('every variable has a type and a description, every output a description', async (t) => {
  for (const dir of terraformDirs()) {
    const h = await parseDir(dir);
    for (const [name, bodies] of Object.entries(h.variable ?? {})) {
      const v = first(bodies);
      t.match(v.type, /^\$\{[\s\S]+\}$/, `${rel(dir)}: variable ${name} has a type`);
      t.ok(typeof v.description === 'string' && v.description.length >= 10, `${rel(dir)}: variable ${name} has a description`);
    }
    for (const [name, bodies] of Object.entries(h.output ?? {})) {
      const o = first(bodies);
      t.ok(typeof o.description === 'string' && o.description.length >= 5, `${rel(dir)}: output ${name} has a description`);
    }
  }
});

t.test('every module and root pins its Terraform and provider versions', async (t) => {
  for (const dir of terraformDirs()) {
    const h = await parseDir(dir);
    const tf = h.terraform ?? [];
    t.ok(tf.some((b) => typeof b.required_version === 'string'), `${rel(dir)}: required_version is set`);
    const providers = tf.flatMap((b) => (b.required_providers as Body[] | undefined) ?? []);
    t.ok(providers.length > 0, `${rel(dir)}: required_providers is declared`);
    for (const block of providers) {
      for (const [name, spec] of Object.entries(block)) {
        const s = spec as { source?: string; version?: string };
        t.match(s.source, /^hashicorp\//, `${rel(dir)}: provider ${name} has a source`);
        t.match(s.version, /\d/, `${rel(dir)}: provider ${name} has a version constraint`);
      }
    }
  }
});

t.test('each environment root holds only its backend, versions, providers and its values for the one composition', async (t) => {
  for (const env of ENVS) {
    const dir = join(PLATFORM, 'envs', env);
    const files = readdirSync(dir).filter((f) => !f.startsWith('.') && f !== 'tfplan' && f !== 'function-values.yaml').sort();
    t.same(files, ['main.tf', 'versions.tf'], `${env}: main.tf (values, providers) and versions.tf (backend, provider versions) only`);
    const h = await parseDir(dir);
    t.same(Object.keys(h.module ?? {}), ['platform'], `${env}: one module call`);
    t.equal(first(h.module?.platform).source, '../../modules/platform', `${env}: the composition`);
    for (const kind of ['resource', 'data', 'ephemeral', 'variable'] as const) t.same(Object.keys(h[kind] ?? {}), [], `${env}: no ${kind} of its own`);
    t.same(h.locals ?? [], [], `${env}: no locals`);
    t.same(Object.keys(h.provider ?? {}).sort(), ['aws', 'helm'], `${env}: configures the AWS and Helm providers`);
    for (const [name, bodies] of Object.entries(h.output ?? {})) t.match(first(bodies).value, /^\$\{module\.platform\.[a-z_]+\}$/, `${env}: output ${name} passes a composition output through`);
    // Values are literals: nothing computed per environment.
    for (const [k, v] of Object.entries(await parseTfvars(env))) t.notMatch(JSON.stringify(v), /\$\{/, `${env}: ${k} is a literal`);
  }
});

t.test('each environment sets every variable without a default, and nothing else', async (t) => {
  const h = await parseDir(COMPOSITION);
  const declared = Object.keys(h.variable ?? {});
  const required = declared.filter((n) => !('default' in first(h.variable?.[n])));
  t.ok(required.length >= 30, `the composition has its settings as variables (${required.length} without default)`);
  for (const env of ENVS) {
    const values = await parseTfvars(env);
    t.same(required.filter((n) => !(n in values)), [], `${env}: the module call sets every variable without a default`);
    t.same(Object.keys(values).filter((n) => !declared.includes(n)), [], `${env}: the module call sets no undeclared variable`);
    t.equal(values.environment, env, `${env}: environment = "${env}"`);
  }
});

t.test('registry modules are pinned to the exact versions in platform/versions.json; local ones are relative', async (t) => {
  const pinned = versions().terraformModules;
  let registry = 0;
  for (const dir of terraformDirs()) {
    const h = await parseDir(dir);
    for (const [name, bodies] of Object.entries(h.module ?? {})) {
      const m = first(bodies);
      const source = String(m.source);
      if (source.startsWith('../')) {
        t.notOk('version' in m, `${rel(dir)}: local module ${name} has no version`);
        continue;
      }
      registry++;
      const match = /^terraform-aws-modules\/([a-z0-9-]+)\/aws(\/\/.*)?$/.exec(source);
      t.ok(match, `${rel(dir)}: module ${name} comes from terraform-aws-modules (${source})`);
      t.match(m.version, /^\d+\.\d+\.\d+$/, `${rel(dir)}: module ${name} is pinned to an exact version, not a range`);
      t.equal(m.version, pinned[match?.[1] ?? ''], `${rel(dir)}: module ${name} version equals versions.json terraformModules.${match?.[1]}`);
    }
  }
  t.equal(registry, 3, 'vpc, vpc-endpoints and eks are the registry modules');
});

t.test('Helm charts: remote ones carry a version from versions.json, local ones exist', async (t) => {
  const v = versions();
  let remote = 0;
  for (const dir of terraformDirs()) {
    const h = await parseDir(dir);
    for (const [name, bodies] of Object.entries(h.resource?.helm_release ?? {})) {
      const r = first(bodies);
      if (r.repository) {
        remote++;
        t.match(r.version, /^\$\{var\./, `${rel(dir)}: helm_release.${name} takes its version from a variable`);
      } else {
        const chart = String(r.chart).replace('${path.module}', dir);
        t.ok(readdirSync(chart).includes('Chart.yaml'), `${rel(dir)}: helm_release.${name} local chart ${rel(chart)} exists`);
      }
    }
  }
  t.equal(remote, 4, 'knative-operator, kube-prometheus-stack, opentelemetry-collector and external-dns are remote charts');
  const root = await parseDir(COMPOSITION);
  const obs = first(root.module?.observability);
  t.same(obs.chart_versions, {
    kube_prometheus_stack: '${local.versions.charts.kubePrometheusStack}',
    opentelemetry_collector: '${local.versions.charts.opentelemetryCollector}',
  });
  t.equal(obs.jaeger_image_tag, '${local.versions.images.jaeger}');
  t.equal(first(root.module?.ingress).external_dns_chart_version, '${local.versions.charts.externalDns}');
  t.ok(v.charts.kubePrometheusStack && v.charts.opentelemetryCollector && v.charts.externalDns && v.images.jaeger, 'versions.json has every chart');
});

t.test('Knative and Kubernetes versions come from platform/versions.json only', async (t) => {
  const v = versions();
  {
    const h = await parseDir(COMPOSITION);
    const locals = Object.assign({}, ...(h.locals ?? [])) as Body;
    t.equal(locals.versions, '${jsondecode(file("${path.module}/../../versions.json"))}', 'the composition reads versions.json');
    const kn = first(h.module?.knative);
    t.equal(kn.knative_version, '${local.versions.knative.release}', 'Knative release from versions.json');
    t.equal(kn.operator_chart_version, '${local.versions.knative.operatorChart}', 'operator chart from versions.json');
    t.equal(first(h.module?.cluster).kubernetes_version, '${local.versions.kubernetes.version}', 'Kubernetes from versions.json');
  }
  const knative = await parseDir(join(PLATFORM, 'modules', 'knative'));
  const operator = first(knative.resource?.helm_release?.operator);
  t.equal(operator.version, '${var.operator_chart_version}');
  t.equal(operator.chart, 'knative-operator');
  const serving = first(knative.resource?.helm_release?.serving);
  t.match(String((serving.values as string[])[0]), /version\s*=\s*var\.knative_version/, 'the KnativeServing chart gets the pinned release');
  t.equal(v.knative.operatorChart, `v${v.knative.release}`, 'operator chart and Knative release agree');
  // No second copy of the numbers anywhere in the Terraform code or tfvars.
  const escaped = (s: string) => s.replace(/\./g, '\\.');
  const copies = new RegExp(`["'](v?${escaped(v.knative.release)}|${escaped(v.kubernetes.version)})["']`);
  for (const dir of terraformDirs()) {
    for (const f of [...tfFiles(dir), join(dir, 'terraform.tfvars')]) {
      let text = '';
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        continue;
      }
      t.notMatch(text, copies, `${rel(f)} holds no copy of the Knative or Kubernetes version`);
    }
  }
});

t.test("the function's role reads only its own secret and decrypts only through Secrets Manager", async (t) => {
  const h = await parseDir(join(PLATFORM, 'modules', 'function'));
  const locals = Object.assign({}, ...(h.locals ?? [])) as Body;
  t.equal(
    locals.secret_arn_pattern,
    'arn:${data.aws_partition.current.partition}:secretsmanager:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:secret:${aws_secretsmanager_secret.this.name}-??????',
    'the resource is exactly the secret ARN with the six-character suffix (-??????, not -* or *)',
  );
  const doc = first(h.data?.aws_iam_policy_document?.function);
  const statements = doc.statement as Body[];
  t.equal(statements.length, 2, 'two statements');
  const actions = statements.flatMap((s) => s.actions as string[]).sort();
  t.same(actions, ['kms:Decrypt', 'secretsmanager:GetSecretValue'], 'only GetSecretValue and kms:Decrypt');
  for (const s of statements) {
    t.not(s.effect, 'Deny');
    t.notOk('not_actions' in s || 'not_resources' in s, 'no NotAction/NotResource');
    t.notOk((s.resources as string[]).some((r) => r.includes('*')), `${String(s.sid)}: no wildcard resource`);
  }
  const get = statements.find((s) => (s.actions as string[]).includes('secretsmanager:GetSecretValue'));
  t.same(get?.resources, ['${local.secret_arn_pattern}']);
  const decrypt = statements.find((s) => (s.actions as string[]).includes('kms:Decrypt'));
  t.same(decrypt?.resources, ['${module.kms_key.arn}'], 'kms:Decrypt on the function key only');
  const conditions = (decrypt?.condition as Body[]) ?? [];
  t.same(
    conditions.find((c) => c.variable === 'kms:ViaService'),
    { test: 'StringEquals', variable: 'kms:ViaService', values: ['secretsmanager.${data.aws_region.current.region}.amazonaws.com'] },
    'kms:Decrypt only via Secrets Manager in this region',
  );
  // The role is trusted by Pod Identity and bound to the contract's namespace/service account.
  const trust = first(h.data?.aws_iam_policy_document?.trust);
  const principals = (trust.statement as Body[]).flatMap((s) => s.principals as Body[]);
  t.same(principals, [{ type: 'Service', identifiers: ['pods.eks.amazonaws.com'] }]);
  const assoc = first(h.resource?.aws_eks_pod_identity_association?.this);
  t.equal(assoc.namespace, '${var.namespace}');
  t.equal(assoc.service_account, '${var.service_account}');
  t.equal(first(h.resource?.aws_iam_role_policy?.this).policy, '${data.aws_iam_policy_document.function.json}');
  t.same(Object.keys(h.resource?.aws_iam_role_policy ?? {}), ['this'], 'one inline policy');
  t.notOk(h.resource?.aws_iam_role_policy_attachment, 'no managed policy attached');
});

t.test("the function's contract defaults match the chart's: namespace functions, release and service account fn", async (t) => {
  {
    const h = await parseDir(COMPOSITION);
    t.equal(first(h.variable?.function_namespace).default, 'functions');
    t.equal(first(h.variable?.function_name).default, 'fn');
    t.equal(first(h.variable?.function_service_account).default, 'fn');
    const fn = first(h.module?.function);
    t.equal(fn.namespace, '${var.function_namespace}');
    t.equal(fn.service_account, '${var.function_service_account}');
  }
});

t.test('secret values never reach the state: write-only arguments and ephemeral generators only', async (t) => {
  let versionsSeen = 0;
  for (const dir of terraformDirs()) {
    const h = await parseDir(dir);
    for (const kind of ['random_password', 'random_string', 'random_bytes', 'random_id', 'tls_private_key']) {
      t.notOk(h.resource?.[kind], `${rel(dir)}: no ${kind} resource (its value would be stored in the state)`);
    }
    t.notOk(h.data?.aws_secretsmanager_secret_version, `${rel(dir)}: no aws_secretsmanager_secret_version data source (state); ephemeral only`);
    for (const [name, bodies] of Object.entries(h.resource?.aws_secretsmanager_secret_version ?? {})) {
      versionsSeen++;
      const v = first(bodies);
      t.notOk('secret_string' in v || 'secret_binary' in v, `${rel(dir)}: ${name} sets no stored secret_string/secret_binary`);
      t.ok('secret_string_wo' in v && 'secret_string_wo_version' in v, `${rel(dir)}: ${name} uses secret_string_wo with a version`);
      t.match(v.secret_string_wo, /ephemeral\./, `${rel(dir)}: ${name} is fed from an ephemeral value`);
    }
    for (const [name, bodies] of Object.entries(h.resource?.helm_release ?? {})) {
      const r = first(bodies);
      t.notMatch(JSON.stringify(r.values ?? ''), /password|secret_string/i, `${rel(dir)}: helm_release.${name} values carry no secret (set_wo only)`);
    }
  }
  t.equal(versionsSeen, 2, "the function's secret and Grafana's admin password");
  const obs = await parseDir(join(PLATFORM, 'modules', 'observability'));
  const kps = first(obs.resource?.helm_release?.kube_prometheus_stack);
  t.match(JSON.stringify(kps.set_wo), /grafana\.adminPassword/, "Grafana's password goes through set_wo");
  t.ok(obs.ephemeral?.aws_secretsmanager_secret_version, 'read back through an ephemeral resource');
});

t.test("the function's secret document has the keys the function's values file declares, no key of the example's", async (t) => {
  const fn = await parseDir(join(PLATFORM, 'modules', 'function'));
  const doc = first(fn.resource?.aws_secretsmanager_secret_version?.this);
  t.equal(doc.secret_string_wo, '${jsonencode({ for k in var.secret_keys : k => ephemeral.random_password.initial[k].result })}', 'one random value per key of var.secret_keys');
  t.equal(first(fn.ephemeral?.random_password?.initial).for_each, '${toset(var.secret_keys)}', 'a generator per key');
  for (const dir of terraformDirs()) {
    for (const f of tfFiles(dir)) t.notMatch(readFileSync(f, 'utf8'), /SIGNING_KEY|signing_key/, `${rel(f)} names no key of the example`);
  }
  const platform = readFileSync(join(PLATFORM, 'modules', 'platform', 'main.tf'), 'utf8');
  t.match(platform, /secret_keys\s*=\s*try\(yamldecode\(file\("\$\{path\.module\}\/\.\.\/\.\.\/\.\.\/\$\{var\.function_dir\}\/values\.yaml"\)\)\.function\.secretKeys, \[\]\)/, "keys from the function's values file (function.secretKeys)");
});

t.test("no literal secrets in an environment's values", async (t) => {
  for (const env of ENVS) {
    const text = readFileSync(join(PLATFORM, 'envs', env, 'main.tf'), 'utf8');
    const tfvars = await parseTfvars(env);
    for (const [k, v] of Object.entries(tfvars)) {
      t.notOk(/(password|secret|token|private|access_key|api_key|signing)/i.test(k) && typeof v === 'string', `${env}: ${k} is not a secret value`);
    }
    t.notMatch(text, /AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}/, `${env}: no AWS access key id`);
    t.notMatch(text, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, `${env}: no private key`);
    t.notMatch(text, /"[A-Za-z0-9+/=_-]{32,}"/, `${env}: no long opaque token-like string`);
  }
});

t.test('prod differs from dev where it must', async (t) => {
  const dev = await parseTfvars('dev');
  const prod = await parseTfvars('prod');
  t.equal(dev.az_count, 2, 'dev: 2 AZs');
  t.equal(prod.az_count, 3, 'prod: 3 AZs');
  t.equal(dev.single_nat_gateway, true, 'dev: one NAT gateway');
  t.equal(prod.single_nat_gateway, false, 'prod: one NAT gateway per AZ');
  t.equal(prod.enable_flow_logs, true, 'prod: flow logs');
  t.equal(prod.cluster_endpoint_public_access, false, 'prod: private API endpoint');
  t.same(prod.cluster_endpoint_public_access_cidrs, [], 'prod: no public CIDRs');
  t.equal(dev.cluster_endpoint_public_access, true, 'dev: public endpoint...');
  t.ok((dev.cluster_endpoint_public_access_cidrs as string[]).length > 0, '...restricted to given CIDRs');
  t.ok((dev.node_capacity_types as string[]).includes('spot'), 'dev: spot allowed');
  t.same(prod.node_capacity_types, ['on-demand'], 'prod: on-demand only');
  t.ok(Number(prod.knative_replicas) >= 2 && Number(prod.prometheus_replicas) >= 2 && Number(prod.collector_replicas) >= 2, 'prod: replicated data plane and telemetry');
  t.equal(prod.jaeger_persistent, true, 'prod: traces survive a Jaeger restart');
  const days = (d: unknown) => Number(String(d).replace(/d$/, ''));
  t.ok(days(prod.prometheus_retention) > days(dev.prometheus_retention), 'prod: longer metrics retention');
  t.ok(Number(prod.log_retention_days) > Number(dev.log_retention_days), 'prod: longer log retention');
  t.ok(Number(prod.secret_recovery_window_days) >= 7 && prod.ecr_force_delete === false, 'prod: deletions are recoverable');
  t.not(prod.vpc_cidr, dev.vpc_cidr, 'distinct VPC ranges (peering stays possible)');
  t.not(prod.domain, dev.domain, 'distinct domains');
});

t.test('the cluster: access entries only, encrypted secrets, logs, Auto Mode', async (t) => {
  const h = await parseDir(join(PLATFORM, 'modules', 'cluster'));
  const eks = first(h.module?.eks);
  t.equal(eks.authentication_mode, 'API');
  t.equal(eks.enable_cluster_creator_admin_permissions, false, 'no implicit admin for whoever created it');
  t.equal(eks.endpoint_private_access, true);
  t.same(eks.encryption_config, { provider_key_arn: '${module.kms_key.arn}', resources: ['secrets'] });
  t.same(eks.enabled_log_types, ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler']);
  t.same((eks.compute_config as Body).enabled, true, 'EKS Auto Mode: node capacity follows pods, to zero');
  t.equal(first(h.module?.kms_key).source, '../kms-key', 'its key from the one key-making module');
  const locals = Object.assign({}, ...(h.locals ?? [])) as Body;
  t.match(JSON.stringify(locals.deploy_entry), /"type":"namespace".*AmazonEKSEditPolicy/, 'the deploy role edits its namespace only');
  t.notMatch(JSON.stringify(locals.deploy_entry), /ClusterAdmin/, 'and is no cluster admin');
});

t.test('the CI deploy role is bound to one repository and environment and touches only its repository', async (t) => {
  const h = await parseDir(join(PLATFORM, 'modules', 'ci'));
  const trust = first(h.data?.aws_iam_policy_document?.trust);
  const conds = (trust.statement as Body[]).flatMap((s) => s.condition as Body[]);
  t.same(conds.find((c) => String(c.variable).endsWith(':sub'))?.values, ['repo:${var.github_repository}:environment:${var.github_environment}']);
  t.same(conds.find((c) => String(c.variable).endsWith(':aud'))?.values, ['sts.amazonaws.com']);
  const deploy = first(h.data?.aws_iam_policy_document?.deploy);
  for (const s of deploy.statement as Body[]) {
    const actions = s.actions as string[];
    t.notOk(actions.some((a) => a.endsWith(':*') || a === '*'), `${String(s.sid)}: no wildcard action`);
    if ((s.resources as string[]).includes('*')) t.same(actions, ['ecr:GetAuthorizationToken'], 'only the ECR login is account-wide');
  }
});

t.test('every checkov skip carries its justification next to the resource', async (t) => {
  let skips = 0;
  for (const dir of terraformDirs()) {
    for (const f of tfFiles(dir)) {
      for (const line of readFileSync(f, 'utf8').split('\n')) {
        if (!line.includes('checkov:skip')) continue;
        skips++;
        t.match(line, /^\s+# checkov:skip=CKV2?_[A-Z0-9]+_\d+: .{20,}$/, `${rel(f)}: ${line.trim().slice(0, 60)}... is inside a block and says why`);
      }
    }
  }
  t.ok(skips > 0, "skips exist and were all checked");
});

t.test('the deploy output object has every key the deploy flow reads', async (t) => {
  const reader = readFileSync(join(PLATFORM, '..', 'scripts', 'deploy', 'lib', 'platform.ts'), 'utf8');
  const wanted = new Set([...reader.matchAll(/str\('([a-z_]+)'\)|raw\.([a-z_]+)/g)].map((m) => (m[1] ?? m[2]) as string));
  t.ok(wanted.size >= 8, `the deploy flow reads ${[...wanted].join(', ')}`);
  {
    const h = await parseDir(COMPOSITION);
    const locals = Object.assign({}, ...(h.locals ?? [])) as Body;
    const provided = Object.keys(locals.deploy_outputs as Body);
    t.same([...wanted].filter((k) => !provided.includes(k)), [], 'deploy_outputs provides them all');
    const param = first(h.resource?.aws_ssm_parameter?.outputs);
    t.equal(param.value, '${jsonencode(local.deploy_outputs)}', 'the same object goes to the SSM parameter');
    t.equal(locals.outputs_parameter_name, '/${var.project}/${var.environment}/platform-outputs');
    for (const env of ENVS) t.equal(first((await parseDir(join(PLATFORM, 'envs', env))).output?.deploy).value, '${module.platform.deploy}', `${env}: output deploy`);
  }
});

const PULL_ACTIONS = ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'];

t.test("cross-account promotion: dev's repository policy grants pull, and only pull, to exactly the listed principals", async (t) => {
  const h = await parseDir(join(PLATFORM, 'modules', 'function'));
  const v = first(h.variable?.ecr_pull_principal_arns);
  t.same(v.default, [], 'no principal by default');
  t.equal(v.type, '${list(string)}');
  const onlyWhenListed = '${length(var.ecr_pull_principal_arns) > 0 ? 1 : 0}';
  const policy = first(h.resource?.aws_ecr_repository_policy?.pull);
  t.equal(policy.count, onlyWhenListed, 'the repository policy exists only for a non-empty list');
  t.equal(policy.repository, '${aws_ecr_repository.this.name}', "on the function's repository");
  t.equal(policy.policy, '${data.aws_iam_policy_document.ecr_pull[0].json}', 'from the pull document');
  t.same(Object.keys(h.resource?.aws_ecr_repository_policy ?? {}), ['pull'], 'the only repository policy');
  const doc = first(h.data?.aws_iam_policy_document?.ecr_pull);
  t.equal(doc.count, onlyWhenListed, 'the document too');
  t.notOk('source_policy_documents' in doc || 'override_policy_documents' in doc, 'nothing merged in');
  const statements = doc.statement as Body[];
  t.equal(statements.length, 1, 'one statement');
  const s = statements[0] as Body;
  t.ok(s.effect === undefined || s.effect === 'Allow', 'Allow');
  t.same([...(s.actions as string[])].sort(), PULL_ACTIONS, 'exactly BatchGetImage, GetDownloadUrlForLayer and BatchCheckLayerAvailability: no push, no delete');
  t.notOk('not_actions' in s || 'not_principals' in s || 'not_resources' in s, 'no NotAction/NotPrincipal/NotResource');
  t.notOk('condition' in s, 'no condition widening or narrowing it silently');
  t.same(s.principals, [{ type: 'AWS', identifiers: '${var.ecr_pull_principal_arns}' }], 'principals are exactly the listed ARNs (AWS type, no "*")');
  // The variable rejects wildcards and bare account IDs (validation.test.ts feeds the bad values).
  const rule = first(v.validation as Body[]);
  t.match(rule.condition, /regex\("\^arn:aws\[a-z-\]\*:iam::\[0-9\]\{12\}:\(root\|role\/.*\|user\/.*\)\$"/, 'each entry must be an IAM role, user or root ARN');
  t.match(rule.error_message, /^ecr_pull_principal_arns must/, 'the message names the variable');
});

t.test("cross-account promotion: prod's deploy role may pull the listed repositories, and only pull", async (t) => {
  const h = await parseDir(join(PLATFORM, 'modules', 'ci'));
  t.same(first(h.variable?.ecr_pull_repository_arns).default, [], 'no other repository by default');
  const deploy = first(h.data?.aws_iam_policy_document?.deploy);
  const dyn = ((deploy.dynamic as Body | undefined)?.statement as Body[] | undefined) ?? [];
  t.equal(dyn.length, 1, 'one optional statement');
  const d = dyn[0] as Body;
  t.equal(d.for_each, '${length(var.ecr_pull_repository_arns) > 0 ? [1] : []}', 'present only for a non-empty list');
  const c = first(d.content as Body[]);
  t.same([...(c.actions as string[])].sort(), PULL_ACTIONS, 'pull actions only');
  t.equal(c.resources, '${var.ecr_pull_repository_arns}', 'on exactly the listed repositories');
});

t.test('both roots thread the cross-account pull lists to the modules, empty by default', async (t) => {
  const h = await parseDir(COMPOSITION);
  for (const name of ['ecr_pull_principal_arns', 'ecr_pull_repository_arns']) {
    const v = first(h.variable?.[name]);
    t.same(v.default, [], `${name} defaults to []`);
    t.ok((v.validation as Body[] | undefined)?.length, `${name} is validated`);
  }
  t.equal(first(h.module?.function).ecr_pull_principal_arns, '${var.ecr_pull_principal_arns}', 'function module gets the principals');
  t.equal(first(h.module?.ci).ecr_pull_repository_arns, '${var.ecr_pull_repository_arns}', 'ci module gets the repositories');
  t.equal(first(h.output?.ecr_repository_arn).value, '${module.function.ecr_repository_arn}', 'the repository ARN is an output');
  for (const env of ENVS) {
    t.equal(first((await parseDir(join(PLATFORM, 'envs', env))).output?.ecr_repository_arn).value, '${module.platform.ecr_repository_arn}', `${env}: and a root output`);
    const tfvars = await parseTfvars(env);
    t.notOk('ecr_pull_principal_arns' in tfvars || 'ecr_pull_repository_arns' in tfvars, `${env}: the values leave both empty (commented examples only)`);
  }
});

t.test('one place makes KMS keys: modules/kms-key, with rotation, called for every key', async (t) => {
  const KEY_MODULE = join(PLATFORM, 'modules', 'kms-key');
  let calls = 0;
  for (const dir of terraformDirs()) {
    const h = await parseDir(dir);
    if (dir === KEY_MODULE) continue;
    t.notOk(h.resource?.aws_kms_key || h.resource?.aws_kms_alias, `${rel(dir)}: no aws_kms_key/aws_kms_alias of its own`);
    for (const [name, bodies] of Object.entries(h.module ?? {})) {
      if (!String(first(bodies).source).endsWith('/kms-key')) continue;
      calls++;
      t.notOk('policy' in first(bodies), `${rel(dir)}: module.${name} passes no key policy of its own`);
    }
  }
  t.equal(calls, 5, 'logs, platform secrets, EKS secrets, the function, the state bucket');
  const k = await parseDir(KEY_MODULE);
  const key = first(k.resource?.aws_kms_key?.this);
  t.equal(key.enable_key_rotation, true, 'rotation on');
  t.equal(key.policy, '${data.aws_iam_policy_document.this.json}', 'the one key policy');
  t.equal(key.deletion_window_in_days, '${var.deletion_window_days}');
});

t.test('state objects take the bucket key: no backend asks for SSE-S3, and the bucket refuses it', async (t) => {
  for (const env of ENVS) {
    const h = await parseDir(join(PLATFORM, 'envs', env));
    const backend = ((h.terraform ?? []).flatMap((b) => (b.backend as Record<string, Body[]> | undefined)?.s3 ?? []) as Body[])[0];
    t.ok(backend, `${env}: S3 backend`);
    // encrypt = true without kms_key_id makes the S3 backend send x-amz-server-side-encryption: AES256 on every
    // write, which overrides the bucket's default (its customer key).
    t.ok(backend?.encrypt !== true || 'kms_key_id' in (backend ?? {}), `${env}: no encrypt = true without kms_key_id`);
    t.equal(backend?.use_lockfile, true, `${env}: S3-native locking`);
  }
  const b = await parseDir(join(PLATFORM, 'bootstrap'));
  const sse = first(b.resource?.aws_s3_bucket_server_side_encryption_configuration?.state);
  const byDefault = (((sse.rule as Body[])[0] as Body).apply_server_side_encryption_by_default as Body[])[0] as Body;
  t.same(byDefault, { sse_algorithm: 'aws:kms', kms_master_key_id: '${module.state_key.arn}' }, 'bucket default: the state key');
  const deny = ((first(b.data?.aws_iam_policy_document?.state).statement as Body[]) ?? []).find((s) => s.sid === 'DenySseS3Uploads');
  t.same(deny?.condition, [{ test: 'StringEquals', variable: 's3:x-amz-server-side-encryption', values: ['AES256'] }], 'the bucket refuses SSE-S3 uploads');
  t.equal(deny?.effect, 'Deny');
});

t.test('an environment with a private API endpoint is deployed from inside its network', async (t) => {
  const { parse } = await import('yaml');
  const wf = parse(readFileSync(join(PLATFORM, '..', '.github', 'workflows', 'deploy.yml'), 'utf8')) as { jobs: Record<string, { 'runs-on': string | string[]; environment?: { name: string } | string }> };
  for (const env of ENVS) {
    const v = await parseTfvars(env);
    const jobs = Object.entries(wf.jobs).filter(([, j]) => (typeof j.environment === 'string' ? j.environment : j.environment?.name) === env);
    t.equal(jobs.length, 1, `${env}: one deploy job`);
    const runsOn = ([] as string[]).concat(jobs[0]?.[1]['runs-on'] ?? []);
    if (v.cluster_endpoint_public_access === false) {
      t.ok(runsOn.includes('self-hosted'), `${env}: private endpoint => the ${jobs[0]?.[0]} job runs on a self-hosted runner in the VPC (runs-on: ${runsOn.join(', ')})`);
      t.ok((v.cluster_endpoint_private_access_cidrs as string[]).length > 0, `${env}: and the runner's network may reach the private endpoint`);
    } else {
      t.ok((v.cluster_endpoint_public_access_cidrs as string[]).length > 0, `${env}: public endpoint restricted to listed CIDRs`);
    }
  }
});
