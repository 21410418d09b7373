/**
 * Security properties as tests: what the README promises, checked on the running function, the rendered chart and
 * the parsed platform code. /metrics is not on the public port; helmet headers are on every response (success and
 * error); logs redact authorization and cookie headers; the function's IAM policy and NetworkPolicy match the
 * README's "Least privilege" statement; the container runs non-root with a read-only root filesystem.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyPluginAsync } from 'fastify';
import fastifyHelmet from '@fastify/helmet';
import { HELMET_OPTIONS } from '../src/plugins/security.js';
import { byKind, knativeService, render, type K8sObject } from '../../chart/test/helpers.js';
import { parseDir, type Body } from '../../platform/test/helpers.js';
import { ROOT } from './helpers/paths.js';
import { startApp } from './helpers/app.js';
import { baseEnv, startServer } from './helpers/process.js';
import type { LambdaHandler } from '../src/types.js';

const CONTRACT = JSON.parse(readFileSync(join(ROOT, 'chart/files/contract.json'), 'utf8')) as { ports: { http: number; metrics: number } };
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
/** The README's "Least privilege" section: the statement the policies are held to. */
const LEAST_PRIVILEGE = /## Least privilege\n([\s\S]*?)(?=\n## |$)/.exec(README)?.[1] ?? '';

t.test('the README has a least-privilege statement to hold the policies to', async (t) => {
  t.match(LEAST_PRIVILEGE, /secretsmanager:GetSecretValue/);
  t.match(LEAST_PRIVILEGE, /kms:Decrypt/);
});

t.test('/metrics is served only on METRICS_PORT, never on the public port', async (t) => {
  const server = await startServer(baseEnv());
  t.teardown(() => server.stop());
  for (const path of ['/metrics', '/metrics/', '/METRICS', '/metrics?x=1', '//metrics']) {
    const res = await fetch(`${server.url}${path}`);
    const body = await res.text();
    t.equal(res.status, 404, `public ${path} is 404`);
    t.notMatch(body, /process_cpu|http_server_request_duration/, `public ${path} has no metric text`);
  }
  const metrics = await fetch(`${server.metricsUrl}/metrics`);
  t.equal(metrics.status, 200, 'the metrics port serves /metrics');
  t.match(await metrics.text(), /http_server_active_requests/);
  const other = await fetch(`${server.metricsUrl}/digest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  t.not(other.status, 200, 'the metrics port serves nothing else');
});

t.test('helmet headers on every response: success, client errors, unknown routes, oversize bodies', async (t) => {
  const { url } = await startApp(t, { env: { BODY_LIMIT_BYTES: '64' } });
  const requests: Array<[string, RequestInit]> = [
    ['/', {}],
    ['/?name=' + 'x'.repeat(100), {}],
    ['/nope', {}],
    ['/digest', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }],
    ['/digest', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 'x'.repeat(100) }) }],
    ['/healthz', {}],
  ];
  for (const [path, init] of requests) {
    const res = await fetch(`${url}${path}`, init);
    const what = `${init.method ?? 'GET'} ${path.slice(0, 20)} (${res.status})`;
    t.equal(res.headers.get('content-security-policy'), "default-src 'none';frame-ancestors 'none'", `${what}: CSP`);
    t.equal(res.headers.get('x-frame-options'), 'DENY', `${what}: framing denied`);
    t.equal(res.headers.get('x-content-type-options'), 'nosniff', `${what}: nosniff`);
    t.match(res.headers.get('strict-transport-security'), /max-age=\d+/, `${what}: HSTS`);
    t.equal(res.headers.get('x-powered-by'), null, `${what}: no X-Powered-By`);
    t.equal(res.headers.get('access-control-allow-origin'), null, `${what}: no CORS`);
  }
});

/** The headers @fastify/helmet sets when registered globally with the function's policy, from a reference app. */
async function referenceHelmetHeaders(): Promise<Record<string, string>> {
  const reference = Fastify();
  await reference.register(fastifyHelmet, { ...HELMET_OPTIONS, global: true });
  reference.get('/', async () => ({ ok: true }));
  const res = await reference.inject('/');
  await reference.close();
  const plain = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);
  return Object.fromEntries(Object.entries(res.headers).filter(([k]) => !plain.has(k)).map(([k, v]) => [k, String(v)]));
}

t.test('every response carries exactly the headers @fastify/helmet sets globally for the same policy', async (t) => {
  const expected = await referenceHelmetHeaders();
  t.ok(Object.keys(expected).length >= 10, `the reference sets ${Object.keys(expected).length} headers`);
  const routes: FastifyPluginAsync = async (app) => {
    app.get('/', async () => ({ ok: true }));
    app.get('/throws', async () => {
      throw new Error('boom');
    });
    app.get('/no-helmet', { helmet: false }, async () => ({ ok: true }));
    app.get('/same-origin-frames', { helmet: { frameguard: { action: 'sameorigin' } } }, async () => ({ ok: true }));
    app.get('/reply-helmet', async (_request, reply) => {
      reply.helmet({ frameguard: { action: 'sameorigin' } });
      return { ok: true };
    });
  };
  const { url } = await startApp(t, { fn: { routes } });
  for (const path of ['/', '/throws', '/nope', '/healthz']) {
    const res = await fetch(`${url}${path}`);
    const got = Object.fromEntries(Object.keys(expected).map((k) => [k, res.headers.get(k)]));
    t.same(got, expected, `GET ${path} (${res.status}): the policy's headers, values equal`);
    t.equal(res.headers.get('x-powered-by'), null, `GET ${path}: no X-Powered-By`);
  }
  const none = await fetch(`${url}/no-helmet`);
  t.equal(none.headers.get('content-security-policy'), null, 'a route with `helmet: false` gets no helmet headers');
  const own = await fetch(`${url}/same-origin-frames`);
  t.equal(own.headers.get('x-frame-options'), 'SAMEORIGIN', "a route's own helmet options apply");
  t.equal(own.headers.get('content-security-policy'), expected['content-security-policy'], '...merged over the policy');
  const decorated = await fetch(`${url}/reply-helmet`);
  t.equal(decorated.headers.get('x-frame-options'), 'SAMEORIGIN', 'reply.helmet() applies its options');
});

const CREDENTIAL = 'Bearer cr3dential-that-must-not-be-logged';
const COOKIE = 'session=c00kie-that-must-not-be-logged';

t.test('request logs redact authorization, cookie and x-api-key headers, also when user code logs the request', async (t) => {
  const routes: FastifyPluginAsync = async (app) => {
    app.get('/logs-everything', async (request) => {
      request.log.info({ req: { headers: request.headers }, headers: request.headers }, 'user code logged the request headers');
      return { ok: true };
    });
  };
  const { url, rawLogs, logs } = await startApp(t, { fn: { routes }, env: { LOG_LEVEL: 'debug' } });
  for (const path of ['/logs-everything', '/nope']) {
    await fetch(`${url}${path}`, { headers: { authorization: CREDENTIAL, cookie: COOKIE, 'x-amz-security-token': 'amz-t0ken', 'x-api-key': 'ap1-key-that-must-not-be-logged' } });
  }
  const raw = rawLogs();
  t.notMatch(raw, 'cr3dential', 'no authorization value in any log line');
  t.notMatch(raw, 'c00kie', 'no cookie value in any log line');
  t.notMatch(raw, 'ap1-key', 'no x-api-key value in any log line');
  const logged = logs().find((l) => l.msg === 'user code logged the request headers') as { headers: Record<string, string> } | undefined;
  t.ok(logged, `the user's line is logged:\n${raw}`);
  t.equal(logged?.headers.authorization, '[Redacted]', 'user-logged authorization is redacted');
  t.equal(logged?.headers.cookie, '[Redacted]', 'user-logged cookie is redacted');
  t.equal(logged?.headers['x-api-key'], '[Redacted]', 'user-logged x-api-key is redacted');
  t.equal(logged?.headers['user-agent'], 'node', 'other headers are kept');
});

t.test('a Lambda handler that logs its event and context does not leak credentials or secrets', async (t) => {
  const handler: LambdaHandler = async (event, context) => {
    context.logger.info({ event, context }, 'handler logged everything');
    return { ok: true };
  };
  const { url, rawLogs } = await startApp(t, { fn: { handler } });
  const res = await fetch(`${url}/x`, { headers: { authorization: CREDENTIAL, cookie: COOKIE } });
  t.equal(res.status, 200);
  t.match(rawLogs(), 'handler logged everything');
  t.notMatch(rawLogs(), 'cr3dential', 'no authorization value');
  t.notMatch(rawLogs(), 'c00kie', 'no cookie value');
});

// ---- least privilege: the platform's IAM policy -----------------------------------------------------------------

interface Statement {
  sid?: string;
  effect?: string;
  actions?: string[];
  not_actions?: string[];
  resources?: string[];
  not_resources?: string[];
  condition?: Array<{ test: string; variable: string; values: string[] }>;
  principals?: Array<{ type: string; identifiers: string[] }>;
}

t.test("the function's IAM policy grants exactly what the README states", async (t) => {
  const hcl = await parseDir(join(ROOT, 'platform/modules/function'));
  const docs = hcl.data?.aws_iam_policy_document ?? {};
  const rolePolicies = (hcl.resource?.aws_iam_role_policy ?? {}) as Record<string, Body[]>;
  t.same(Object.keys(rolePolicies), ['this'], 'one inline policy on the role');
  t.equal(rolePolicies.this?.[0]?.policy, '${data.aws_iam_policy_document.function.json}', 'it is the "function" policy document');
  t.notOk(hcl.resource?.aws_iam_role_policy_attachment, 'no managed policy is attached to the role');
  t.notOk(hcl.resource?.aws_iam_policy, 'no standalone policy that could be attached elsewhere');

  const statements = (docs.function?.[0]?.statement ?? []) as Statement[];
  const actions = statements.flatMap((s) => s.actions ?? []).sort();
  const stated = [...new Set(LEAST_PRIVILEGE.match(/`([a-z0-9-]+:[A-Za-z*]+)`/g)?.map((a) => a.slice(1, -1)) ?? [])].sort();
  t.same(actions, stated, `the policy's actions are exactly the README's: ${stated.join(', ')}`);
  for (const s of statements) {
    t.not(s.effect, 'Deny', `${s.sid}: allow statements only (nothing to reason about twice)`);
    t.notOk(s.not_actions ?? s.not_resources, `${s.sid}: no NotAction/NotResource`);
    for (const r of [...(s.actions ?? []), ...(s.resources ?? [])]) t.notMatch(r, /^\*$|:\*$/, `${s.sid}: no wildcard action or resource (${r})`);
  }

  const local = (name: string): string => String(hcl.locals?.find((l) => name in l)?.[name] ?? '');
  const read = statements.find((s) => s.actions?.includes('secretsmanager:GetSecretValue'));
  t.same(read?.resources, ['${local.secret_arn_pattern}'], 'GetSecretValue on the secret ARN pattern only');
  const pattern = local('secret_arn_pattern');
  const statedArn = /`(arn:aws:secretsmanager:[^`]+)`/.exec(LEAST_PRIVILEGE)?.[1] ?? '';
  t.match(statedArn, /:secret:<name>-\?{6}$/, `README: ${statedArn}`);
  t.match(pattern, /^arn:\$\{data\.aws_partition\.current\.partition\}:secretsmanager:\$\{data\.aws_region\.current\.region\}:\$\{data\.aws_caller_identity\.current\.account_id\}:secret:\$\{aws_secretsmanager_secret\.this\.name\}-\?{6}$/,
    `the pattern is this region, this account, this secret, and exactly the six-character suffix: ${pattern}`);

  const decrypt = statements.find((s) => s.actions?.includes('kms:Decrypt'));
  t.same(decrypt?.resources, ['${module.kms_key.arn}'], "kms:Decrypt on the function's own key only");
  const via = decrypt?.condition?.find((c) => c.variable === 'kms:ViaService');
  t.equal(via?.test, 'StringEquals');
  t.same(via?.values, ['secretsmanager.${data.aws_region.current.region}.amazonaws.com'], 'only via Secrets Manager, as the README states');
  t.match(LEAST_PRIVILEGE, /only via Secrets Manager/);

  const trust = (docs.trust?.[0]?.statement ?? []) as Statement[];
  t.same(trust.flatMap((s) => s.principals ?? []), [{ type: 'Service', identifiers: ['pods.eks.amazonaws.com'] }], 'assumable only by EKS Pod Identity');
  t.match(LEAST_PRIVILEGE, /EKS Pod Identity/);
});

// ---- least privilege: the chart's NetworkPolicy ------------------------------------------------------------------

interface Peer {
  namespaceSelector?: { matchLabels?: Record<string, string> };
  podSelector?: { matchLabels?: Record<string, string> };
  ipBlock?: { cidr: string; except?: string[] };
}
interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: Array<{ protocol: string; port: number }>;
}

const ns = (p: Peer): string | undefined => p.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];
const QUEUE_PROXY_SERVING = [8012, 8013, 8112];
const AUTOSCALER_STATS = 9090;

for (const scenario of ['default', 'prod']) {
  t.test(`the rendered NetworkPolicy (${scenario}) admits and lets out only what the README states`, async (t) => {
    const { objects } = render(scenario);
    const [policy] = byKind(objects, 'NetworkPolicy') as K8sObject[];
    t.ok(policy, 'a NetworkPolicy is rendered');
    if (!policy) return;
    const spec = policy.spec as { policyTypes: string[]; ingress: Rule[]; egress: Rule[]; podSelector?: { matchLabels?: Record<string, string> } };
    t.same([...spec.policyTypes].sort(), ['Egress', 'Ingress'], 'both directions are default-deny except the rules');
    const service = knativeService(objects);
    t.equal(spec.podSelector?.matchLabels?.['serving.knative.dev/service'], service.metadata.name, "it selects the function's pods");

    // Ingress: who may reach which port.
    const admitted = new Map<number, Set<string>>();
    for (const rule of spec.ingress) {
      t.ok(rule.from?.length, 'every ingress rule names its sources (no rule open to all)');
      t.ok(rule.ports?.length, 'every ingress rule names its ports');
      for (const peer of rule.from ?? []) {
        t.notOk(peer.ipBlock, 'no ingress by IP block');
        t.ok(ns(peer), 'every source is a namespace');
        for (const p of rule.ports ?? []) {
          admitted.set(p.port, (admitted.get(p.port) ?? new Set()).add(ns(peer) ?? '?'));
        }
      }
    }
    const dataPlane = new Set(['knative-serving', 'kourier-system']);
    for (const port of QUEUE_PROXY_SERVING) {
      t.ok([...(admitted.get(port) ?? [])].every((n) => dataPlane.has(n)), `queue-proxy's serving port ${port} only from Knative's data plane`);
    }
    t.notOk(admitted.has(CONTRACT.ports.http), `the function's own port ${CONTRACT.ports.http} is not admitted at all (queue-proxy reaches it on localhost)`);
    t.same([...(admitted.get(CONTRACT.ports.metrics) ?? [])], ['observability'], `the metrics port ${CONTRACT.ports.metrics} only from the monitoring namespace`);
    t.same([...(admitted.get(AUTOSCALER_STATS) ?? [])], ['knative-serving'], "queue-proxy's stats port only from Knative's autoscaler");
    t.same([...admitted.keys()].sort((a, b) => a - b), [...QUEUE_PROXY_SERVING, AUTOSCALER_STATS, CONTRACT.ports.metrics].sort((a, b) => a - b), 'no other port');

    // Egress: DNS, the collector, HTTPS to AWS; never the instance metadata address.
    const out = spec.egress.map((rule) => ({
      to: (rule.to ?? []).map((p) => p.ipBlock ? `${p.ipBlock.cidr}${p.ipBlock.except ? ` except ${p.ipBlock.except.join(',')}` : ''}` : `${ns(p)}${p.podSelector ? `/${Object.values(p.podSelector.matchLabels ?? {}).join(',')}` : ''}`),
      ports: (rule.ports ?? []).map((p) => `${p.protocol}/${p.port}`).sort(),
    }));
    t.same(out, [
      // DNS on port 53 to any address: on EKS Auto Mode the node answers DNS, not a kube-dns pod (platform review B4).
      { to: [], ports: ['TCP/53', 'UDP/53'] },
      { to: ['observability'], ports: ['TCP/4317', 'TCP/4318'] },
      { to: ['0.0.0.0/0 except 169.254.169.254/32'], ports: ['TCP/443'] },
      // The EKS Pod Identity agent (node-local): where the SDK gets the credentials of the role the README names.
      { to: ['169.254.170.23/32'], ports: ['TCP/80'] },
    ], `egress: ${JSON.stringify(out)}`);
    t.match(LEAST_PRIVILEGE, /DNS goes to port 53 of any address/);
    t.match(LEAST_PRIVILEGE, /only DNS, the OTel collector, the EKS Pod Identity\s+agent \(169\.254\.170\.23:80, for the role's credentials\) and HTTPS to AWS APIs, never the instance metadata address\s+\(169\.254\.169\.254\)/);
  });
}

// ---- the container ------------------------------------------------------------------------------------------------

t.test('the container runs as a non-root user with a read-only root filesystem', async (t) => {
  for (const scenario of ['default', 'prod']) {
    const service = knativeService(render(scenario).objects);
    const container = service.spec.template.spec.containers[0] as { securityContext: Record<string, unknown> };
    const sc = container.securityContext;
    t.equal(sc.runAsNonRoot, true, `${scenario}: runAsNonRoot`);
    t.ok(Number(sc.runAsUser) > 0, `${scenario}: a non-zero uid (${String(sc.runAsUser)})`);
    t.equal(sc.readOnlyRootFilesystem, true, `${scenario}: read-only root filesystem`);
    t.equal(sc.allowPrivilegeEscalation, false, `${scenario}: no privilege escalation`);
    t.same((sc.capabilities as { drop?: string[] })?.drop, ['ALL'], `${scenario}: every capability dropped`);
    t.same(sc.seccompProfile, { type: 'RuntimeDefault' }, `${scenario}: RuntimeDefault seccomp`);
  }
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  t.match(runtime, /\nUSER 65532:65532\n/, 'the image runs as uid 65532, the distroless nonroot user');
  t.match(runtime, /FROM gcr\.io\/distroless\/nodejs\$\{NODE_MAJOR\}-debian12:nonroot/, 'on the distroless nonroot base (no shell, no package manager)');
});
