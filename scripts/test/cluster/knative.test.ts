/**
 * The product on a real Kubernetes + Knative Serving: the chart installed with helm by the deploy flow, configured
 * by the platform's KnativeServing settings, scaled to zero and back through the activator, traced end to end,
 * rolled out under load and split between revisions. Runs against the local cluster (started here) or any
 * kubeconfig (scripts/test/cluster/target.ts).
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../../cluster/lib/layout.ts';
import {
  acquire, call, hostOf, json, kubectl, kubectlRaw, release, sh, sleep, until, type Reply,
} from './target.ts';

interface Condition { type: string; status: string; reason?: string; message?: string }
interface KService {
  metadata: { generation: number };
  spec: { template: { spec: { containers: Array<{ image: string }> } } };
  status: { url?: string; observedGeneration?: number; latestReadyRevisionName?: string; latestCreatedRevisionName?: string; conditions?: Condition[]; traffic?: Array<{ revisionName: string; percent: number; tag?: string; url?: string }> };
}
interface Body { revision: string; firstRequest: boolean }

const ready = (s: KService | undefined): boolean =>
  !!s && s.status.observedGeneration === s.metadata.generation &&
  (s.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') &&
  s.status.latestReadyRevisionName === s.status.latestCreatedRevisionName;

const knativeValues = parse(readFileSync(join(ROOT, 'scripts', 'cluster', 'knative-values.yaml'), 'utf8')) as {
  autoscaler: { scaleToZeroGracePeriod: string };
};
const chartLocal = parse(readFileSync(join(ROOT, 'chart', 'ci', 'local-values.yaml'), 'utf8')) as { autoscaling: { window: string } };
const seconds = (d: string): number => Number(/^(\d+)s$/.exec(d)?.[1] ?? Number.NaN);

// Bring-up, deploy and the suite take minutes; the binaries are built before (make test runs `main.ts build`).
t.setTimeout(30 * 60_000);

t.test('Knative Service on a real cluster', { timeout: 30 * 60_000 }, async (t) => {
  const started = Date.now();
  const target = await acquire();
  t.teardown(() => release(target));
  t.comment(`cluster and deploy ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const ns = ['-n', target.namespace];
  const ksvc = (name = target.service): KService => json<KService>(target, [...ns, 'get', 'ksvc', name]);
  const image = process.env.CLUSTER_IMAGE ?? ksvc().spec.template.spec.containers[0]!.image;
  const [repository, tag] = image.split(/:(?=[^:/]+$)/);
  const helm = (release: string, values: string[]): Promise<string> =>
    sh(join(ROOT, 'bin', 'helm'), ['upgrade', '--install', release, join(ROOT, 'chart'), '--kubeconfig', target.kubeconfig, '--namespace', target.namespace,
      '--values', join(ROOT, 'chart', 'ci', 'local-values.yaml'), '--set-string', `image.repository=${repository}`, '--set-string', `image.tag=${tag}`,
      ...values, '--wait=false']);
  const waitReady = (name = target.service): Promise<KService> =>
    until(`ksvc/${name} Ready`, () => {
      const s = ksvc(name);
      return ready(s) ? s : undefined;
    }, 180_000);
  const get = (host: string, path = '/', keepAlive = false): Promise<Reply> => call(target.ingressUrl, host, path, 60_000, keepAlive);
  const podsOf = (revision: string): number =>
    json<{ items: unknown[] }>(target, [...ns, 'get', 'pods', '-l', `serving.knative.dev/revision=${revision}`]).items.length;

  const svc = await waitReady();
  const host = hostOf(svc.status.url);

  await t.test('the platform\'s Knative settings are the ones Knative runs with', async (t) => {
    const cm = (name: string): Record<string, string> => json<{ data: Record<string, string> }>(target, ['-n', 'knative-serving', 'get', 'configmap', name]).data;
    t.equal(cm('config-network')['ingress-class'], 'kourier.ingress.networking.knative.dev', 'ingress class: Kourier\'s');
    if (target.owned) {
      t.equal(cm('config-autoscaler')['scale-to-zero-grace-period'], knativeValues.autoscaler.scaleToZeroGracePeriod, 'scale-to-zero grace period from the platform chart');
      t.equal(cm('config-features')['secure-pod-defaults'], 'enabled', 'features from the platform chart: secure-pod-defaults');
      t.equal(cm('config-features')['kubernetes.podspec-volumes-emptydir'], 'enabled', 'features from the platform chart: emptyDir volumes');
    }
    const kingress = json<{ metadata: { annotations: Record<string, string> }; status: { conditions: Condition[] } }>(target, [...ns, 'get', 'ingresses.networking.internal.knative.dev', target.service]);
    t.equal(kingress.metadata.annotations['networking.knative.dev/ingress.class'], 'kourier.ingress.networking.knative.dev', 'the route\'s KIngress has that class');
    t.ok(kingress.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'), 'and is Ready (an ingress serves the class)');
  });

  await t.test('Knative\'s webhook accepts every chart scenario and rejects what the chart schema lets through', async (t) => {
    const scenarios = readdirSync(join(ROOT, 'chart', 'ci')).filter((f) => f.endsWith('-values.yaml'));
    const render = (file: string, template: string): Promise<string> =>
      sh(join(ROOT, 'bin', 'helm'), ['template', 'scenario', join(ROOT, 'chart'), '--namespace', target.namespace,
        '--values', join(ROOT, 'chart', 'ci', file), '--set-string', `image.repository=${repository}`, '--set-string', `image.tag=${tag}`,
        '--show-only', template]);
    for (const file of scenarios) {
      // Knative's validation dry-runs the pod, which needs the scenario's ServiceAccount to exist.
      const account = await render(file, 'templates/serviceaccount.yaml').catch(() => '');
      // Made here only when missing, and then removed again: the live function's own account is left alone.
      const made = account.trim() !== '' && kubectlRaw(target, [...ns, 'get', '-f', '-'], account).code !== 0;
      if (made) kubectl(target, [...ns, 'apply', '-f', '-'], account);
      const r = kubectlRaw(target, [...ns, 'apply', '--dry-run=server', '-f', '-'], await render(file, 'templates/service.yaml'));
      t.equal(r.code, 0, `${file}: accepted by Knative's webhook${r.code ? `: ${r.stderr.trim()}` : ''}`);
      if (made) kubectl(target, [...ns, 'delete', '--ignore-not-found', '-f', '-'], account);
    }
    // The chart's schema takes any <n>s window; Knative allows 6s to 1h.
    const bad = await sh(join(ROOT, 'bin', 'helm'), ['template', 'bad', join(ROOT, 'chart'), '--namespace', target.namespace,
      '--set-string', `image.repository=${repository}`, '--set-string', `image.tag=${tag}`, '--set-string', 'autoscaling.window=2s',
      '--show-only', 'templates/service.yaml']);
    const r = kubectlRaw(target, [...ns, 'apply', '--dry-run=server', '-f', '-'], bad);
    t.not(r.code, 0, 'autoscaling.window=2s is rejected');
    t.match(r.stderr, /window/i, `and the webhook names the window: ${r.stderr.trim().split('\n')[0]}`);
  });

  await t.test('scales to zero, then a cold request is served by a new pod through the activator, in one trace', async (t) => {
    const revision = svc.status.latestReadyRevisionName!;
    const warm = await get(host);
    t.equal(warm.status, 200, 'a warm request');
    const lastRequest = Date.now();
    const window = seconds(chartLocal.autoscaling.window);
    const grace = target.owned ? seconds(knativeValues.autoscaler.scaleToZeroGracePeriod) : 30;
    const decided = await until('the autoscaler to scale the revision to zero', () => {
      const pa = json<{ status: { desiredScale?: number } }>(target, [...ns, 'get', 'podautoscalers.autoscaling.internal.knative.dev', revision]);
      return pa.status.desiredScale === 0 ? (Date.now() - lastRequest) / 1000 : undefined;
    }, 180_000);
    // Knative decides after the stable window without traffic plus the grace period (ticks every 2 s).
    t.ok(decided <= window + grace + 15, `scale to zero decided ${decided.toFixed(1)} s after the last request (window ${window} s + grace ${grace} s)`);
    const gone = await until('the last pod to go', () => (podsOf(revision) === 0 ? (Date.now() - lastRequest) / 1000 : undefined), 180_000);
    t.comment(`pods gone ${gone.toFixed(1)} s after the last request (queue-proxy drains for 30 s after SIGTERM)`);

    const cold = await get(host);
    t.equal(cold.status, 200, `the cold request answered 200 in ${cold.ms.toFixed(0)} ms`);
    const body = JSON.parse(cold.body) as Body;
    t.equal(body.firstRequest, true, 'served by a process that had served nothing before');
    t.equal(body.revision, revision, 'by the revision that was at zero');
    const traceresponse = String(cold.headers.traceresponse ?? '');
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(traceresponse);
    t.ok(m, `traceresponse ${traceresponse}`);
    if (!m || !target.jaegerUrl) return;
    const traceId = m[1]!;
    interface Span { processID: string; operationName: string; tags: Array<{ key: string; value: unknown }> }
    const spans = await until('the activator\'s, queue-proxy\'s and the function\'s spans in Jaeger', async () => {
      const r = await fetch(`${target.jaegerUrl}/api/traces/${traceId}`);
      if (r.status !== 200) return undefined;
      const data = (await r.json()) as { data: Array<{ spans: Span[]; processes: Record<string, { serviceName: string }> }> };
      const trace = data.data[0];
      if (!trace) return undefined;
      const named = trace.spans.map((s) => ({ service: trace.processes[s.processID]!.serviceName, op: s.operationName, tags: Object.fromEntries(s.tags.map((x) => [x.key, x.value])) }));
      const activator = named.some((s) => /activator/.test(s.service) && s.op === 'activator_proxy');
      const queueProxy = named.some((s) => s.op === 'kn.queueproxy.proxy');
      // The function's SERVER span carries the route and marks the cold start.
      const fn = named.find((s) => s.service === target.service && s.tags['span.kind'] === 'server' && s.tags['http.route'] === '/');
      return activator && queueProxy && fn ? named : undefined;
    }, 60_000, 1_000);
    const fnSpan = spans.find((s) => s.tags['http.route'] === '/')!;
    t.equal(fnSpan.tags['function.cold_start'], true, 'the function\'s span marks the cold start');
    t.pass(`one trace holds ${spans.length} spans: ${[...new Set(spans.map((s) => `${s.service}:${s.op}`))].join(', ')}`);
  });

  await t.test('a cluster-local service is not reachable through the public ingress', async (t) => {
    const name = `${target.service}-private`;
    await helm(name, ['--set-string', `fullnameOverride=${name}`, '--set-string', 'visibility=cluster-local']);
    const s = await waitReady(name);
    const privateHost = hostOf(s.status.url);
    t.match(privateHost, /\.svc\.cluster\.local$/, `its URL is cluster-local: ${s.status.url}`);
    const outside = await get(privateHost);
    t.equal(outside.status, 404, 'the public ingress does not route it');
    if (target.internalUrl) {
      const inside = await call(target.internalUrl, privateHost);
      t.equal(inside.status, 200, 'the cluster-local listener does');
    }
    await sh(join(ROOT, 'bin', 'helm'), ['uninstall', name, '--kubeconfig', target.kubeconfig, '--namespace', target.namespace]);
  });

  await t.test('a canary split is honoured, and its tag route reaches the canary only', async (t) => {
    const stable = ksvc().status.latestReadyRevisionName!;
    await helm(target.service, ['--reuse-values', '--set-string', 'revisionSuffix=canary1', '--set-json',
      `traffic=[{"latestRevision":false,"revisionName":"${stable}","percent":70,"tag":"stable"},{"latestRevision":true,"percent":30,"tag":"canary"}]`]);
    const s = await waitReady();
    const canary = `${target.service}-canary1`;
    t.equal(s.status.latestReadyRevisionName, canary, 'the canary revision is ready');
    const n = 200;
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i += 1) {
      const r = await get(host, '/', true);
      if (r.status !== 200) {
        t.fail(`request ${i}: ${r.status} ${r.body.slice(0, 200)}`);
        continue;
      }
      const rev = (JSON.parse(r.body) as Body).revision;
      counts.set(rev, (counts.get(rev) ?? 0) + 1);
    }
    const got = counts.get(canary) ?? 0;
    // Binomial(200, 0.3): mean 60, sd 6.5; +-4 sd.
    t.ok(got >= 34 && got <= 86, `${got} of ${n} requests reached the canary (30 % asked): ${JSON.stringify(Object.fromEntries(counts))}`);
    const tagged = s.status.traffic?.find((x) => x.tag === 'canary');
    const tagHost = hostOf(tagged?.url);
    const viaTag = await Promise.all(Array.from({ length: 10 }, () => get(tagHost)));
    t.same(viaTag.map((r) => (JSON.parse(r.body) as Body).revision), Array(10).fill(canary), `every request to ${tagHost} reached the canary`);
  });

  await t.test('a rollout under load: the old revisions drain and scale down with zero failed requests', async (t) => {
    const before = ksvc().status.traffic?.map((x) => x.revisionName) ?? [];
    let stop = false;
    const failures: string[] = [];
    let sent = 0;
    const worker = async (): Promise<void> => {
      while (!stop) {
        sent += 1;
        try {
          const r = await get(host, '/', true);
          if (r.status !== 200) failures.push(`${r.status} ${r.body.slice(0, 120)}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    await sleep(2_000);
    await helm(target.service, ['--reuse-values', '--set-string', 'revisionSuffix=rollout1', '--set-json', 'traffic=[{"latestRevision":true,"percent":100}]']);
    const s = await waitReady();
    t.equal(s.status.traffic?.[0]?.revisionName, `${target.service}-rollout1`, 'all traffic on the new revision');
    const drained = await until('the old revisions\' pods to be gone', () => (before.every((r) => podsOf(r) === 0) ? true : undefined), 240_000, 1_000);
    stop = true;
    await Promise.all(workers);
    t.ok(drained, `old revisions ${before.join(', ')} scaled to zero`);
    t.ok(sent > 100, `${sent} requests sent during the rollout`);
    t.same(failures, [], 'none failed');
  });
});
