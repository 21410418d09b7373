/**
 * The local cluster's pieces that need no cluster: versions in step with the platform, the platform's Knative
 * configuration turned into Knative's config maps, the image map, and the local environment of the deploy flow.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requiredVersion } from '../../cluster/lib/build.ts';
import { dockerfileEnv, imagesFile, nodeServices } from '../../cluster/lib/cluster.ts';
import { applyConfig, platformKnativeServing } from '../../cluster/lib/knative.ts';
import { imagesDir, INGRESS_CLASS, ROOT } from '../../cluster/lib/layout.ts';
import { callableUrl, distTag, stageImage } from '../../deploy/lib/flows.ts';
import { lookup } from '../../deploy/lib/http.ts';
import type { PlatformOutputs } from '../../deploy/lib/platform.ts';

const versions = JSON.parse(readFileSync(join(ROOT, 'platform', 'versions.json'), 'utf8')) as {
  knative: { servingModule: string };
  kubernetes: { version: string };
};

t.test('the cluster builds the Knative Serving and Kubernetes versions the platform runs', async (t) => {
  t.equal(requiredVersion('knative.dev/serving'), versions.knative.servingModule, 'knative.dev/serving = platform/versions.json knative.servingModule');
  t.match(requiredVersion('k8s.io/kubernetes'), new RegExp(`^v${versions.kubernetes.version.replace('.', '\\.')}\\.\\d+$`), 'Kubernetes minor = platform/versions.json kubernetes.version');
  const gomod = readFileSync(join(ROOT, 'scripts', 'cluster', 'k8s', 'go.mod'), 'utf8');
  const k8s = requiredVersion('k8s.io/kubernetes');
  const staging = `v0.${k8s.slice(3)}`;
  const replaces = [...gomod.matchAll(/^\s+(k8s\.io\/\S+) => \S+ (v\S+)$/gm)];
  t.ok(replaces.length >= 30, `${replaces.length} staging modules replaced`);
  t.same(replaces.filter((m) => m[2] !== staging).map((m) => `${m[1]} ${m[2]}`), [], `every staging module at ${staging}`);
});

t.test('the platform\'s KnativeServing config becomes Knative\'s config maps, as the operator applies it', async (t) => {
  const spec = platformKnativeServing(join(ROOT, 'bin', 'helm'), join(ROOT, 'scripts', 'cluster', 'knative-values.yaml'));
  t.equal(spec.config?.network?.['ingress-class'], INGRESS_CLASS, 'the platform sets Kourier\'s ingress class (the class the local ingress serves)');
  const shipped: Parameters<typeof applyConfig>[0] = [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'config-network', namespace: 'knative-serving' }, data: { _example: 'x', 'ingress-class': 'istio' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'config-autoscaler', namespace: 'knative-serving' }, data: { _example: 'y' } },
  ];
  const merged = applyConfig(structuredClone(shipped), { network: { 'ingress-class': INGRESS_CLASS }, autoscaler: { 'scale-to-zero-grace-period': '10s' } });
  t.same(merged[0]!.data, { _example: 'x', 'ingress-class': INGRESS_CLASS }, 'keys merged over the shipped ConfigMap, the rest kept');
  t.same(merged[1]!.data, { _example: 'y', 'scale-to-zero-grace-period': '10s' });
  t.throws(() => applyConfig(structuredClone(shipped), { netwrk: { a: 'b' } }), /spec\.config\.netwrk.*config-netwrk/, 'a config name Knative does not have is an error, not ignored');
});

t.test('the image map: Knative\'s ko:// images and the function with the Dockerfile\'s ENV', async (t) => {
  const file = JSON.parse(imagesFile({ k8sDir: '/cache/k8s', agent: '', ingress: '', kubernetesVersion: '', servingVersion: '' })) as {
    images: Array<{ match: string; command: string[]; workingDir?: string; env: Record<string, string> }>;
  };
  const byMatch = new Map(file.images.map((i) => [i.match, i]));
  t.same(byMatch.get('ko://knative.dev/serving/cmd/queue')?.command, ['/cache/k8s/queue']);
  const fn = byMatch.get('dev.local/knative-fn:*');
  const staged = join(imagesDir(), 'knative-fn', '${MATCH}');
  t.same(fn?.command, [join(staged, 'node'), '--snapshot-blob', 'dist/snapshot.blob', 'dist/server.js'], 'the function runs from the image make deploy-local staged for its tag, started as the image starts it');
  t.equal(fn?.workingDir, staged);
  t.notOk(staged.startsWith(ROOT), 'outside the checkout (a pod\'s own /tmp would hide a checkout under /tmp)');
  t.same(fn?.env, dockerfileEnv(join(ROOT, 'Dockerfile')), 'with the image\'s environment');
  t.equal(fn?.env.NODE_ENV, 'production');
  const dir = mkdtempSync(join(tmpdir(), 'dockerfile-'));
  writeFileSync(join(dir, 'Dockerfile'), 'FROM a AS build\nENV BUILD_ONLY=1\nFROM b\nENV A=1 B="two words"\nENV C=3\n');
  t.same(dockerfileEnv(join(dir, 'Dockerfile')), { A: '1', B: 'two words', C: '3' }, 'only the last stage\'s ENV');
});

t.test('node-level Services have endpoints on the node address', async (t) => {
  const yaml = nodeServices();
  for (const name of ['kourier', 'kourier-internal', 'otel-collector']) t.match(yaml, `kubernetes.io/service-name: ${name}`);
  t.match(yaml, /addresses: \["10\.250\.0\.1"\]/);
});

t.test('the deploy flow\'s local environment', async (t) => {
  const local = { local: { kubeconfig: 'k', ingressPort: 8180 } } as PlatformOutputs;
  t.equal(callableUrl('https://knative-fn-functions.localhost', local), 'http://knative-fn-functions.localhost:8180', 'Knative\'s https URL becomes the forwarded port');
  t.equal(callableUrl('https://fn.example.com', {} as PlatformOutputs), 'https://fn.example.com', 'AWS URLs stay as they are');
  const root = mkdtempSync(join(tmpdir(), 'dist-'));
  mkdirSync(join(root, 'dist'));
  writeFileSync(join(root, 'dist', 'server.js'), 'a');
  const first = distTag(root);
  t.match(first, /^sha-[0-9a-f]{16}$/);
  t.equal(distTag(root), first, 'the same build is the same tag (no new revision)');
  writeFileSync(join(root, 'dist', 'server.js'), 'b');
  t.not(distTag(root), first, 'a new build is a new tag (a new revision)');
  mkdirSync(join(root, 'node_modules', '.bin'), { recursive: true });
  writeFileSync(join(root, 'node_modules', '.bin', 'node'), 'node binary');
  const cache = mkdtempSync(join(tmpdir(), 'images-'));
  const ctx = { root, env: { KNATIVE_FN_CACHE: cache }, log: { out: () => {}, err: () => {} } } as unknown as Parameters<typeof stageImage>[0];
  const dir = stageImage(ctx, distTag(root));
  t.equal(dir, join(cache, 'cluster-images', 'knative-fn', distTag(root)));
  t.equal(readFileSync(join(dir, 'dist', 'server.js'), 'utf8'), 'b', 'the build staged as the image');
  t.equal(readFileSync(join(dir, 'node'), 'utf8'), 'node binary', 'with its Node');
  const resolved = await new Promise<string>((resolve, reject) =>
    lookup('knative-fn-functions.localhost', {}, (err, address) => (err ? reject(err) : resolve(String(address)))),
  );
  t.equal(resolved, '127.0.0.1', '*.localhost resolves to loopback (RFC 6761)');
});

t.test('teardown finds a container that outlived its namespace by its executable', async (t) => {
  const { clusterProcesses } = await import('../../cluster/lib/network.ts');
  const { spawn } = await import('node:child_process');
  const { copyFileSync, chmodSync } = await import('node:fs');
  const cache = mkdtempSync(join(tmpdir(), 'kfn-cache-'));
  const dir = join(cache, 'tools', 'k8s-test');
  mkdirSync(dir, { recursive: true });
  copyFileSync('/bin/sleep', join(dir, 'queue'));
  chmodSync(join(dir, 'queue'), 0o755);
  const before = process.env.KNATIVE_FN_CACHE;
  process.env.KNATIVE_FN_CACHE = cache;
  const child = spawn(join(dir, 'queue'), ['30'], { stdio: 'ignore' });
  const other = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => {
    child.kill('SIGKILL');
    other.kill('SIGKILL');
    process.env.KNATIVE_FN_CACHE = before;
  });
  await new Promise((r) => setTimeout(r, 200));
  const found = clusterProcesses();
  t.ok(found.includes(child.pid!), 'a process running a cluster binary is found');
  t.notOk(found.includes(other.pid!), 'any other process is not');
});
