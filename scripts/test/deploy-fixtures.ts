// Fixtures shared by the deploy tests: the expected argv of each step, canned tool answers, a fake public URL.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Test } from 'tap';
import {
  ACCOUNT, COMMIT, DIGEST, Harness, PROD_ACCOUNT, PROD_REPO, REPO, ROOT, ksvc, platformOutputs, preflightRules, runCli, ssmArgs, type Rule,
} from './deploy-harness.ts';

export { ACCOUNT, COMMIT, DIGEST, PROD_ACCOUNT, PROD_REPO, REPO, ROOT, ksvc, platformOutputs, preflightRules, runCli, ssmArgs };
export type { Rule };

export type Tap = Test;

export const KUBE_DEV = join(ROOT, '.cache', 'deploy', 'dev', 'kubeconfig');
export const KUBE_PROD = join(ROOT, '.cache', 'deploy', 'prod', 'kubeconfig');
export const DEV_ARN = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:knfn-dev/fn-AbCdEf`;
export const PROD_ARN = `arn:aws:secretsmanager:eu-west-1:${PROD_ACCOUNT}:secret:knfn-prod/fn-AbCdEf`;
export const OTLP = 'http://otel-collector.observability.svc.cluster.local:4318';
export const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
export const SSM_DEV = `aws ${ssmArgs('dev').join(' ')}`;
export const SSM_PROD = `aws ${ssmArgs('prod').join(' ')}`;

/** A stand-in for the public URL: answers like the function (200 JSON + traceresponse), or with `status`. */
export async function fakeFunction(t: Tap, status = 200): Promise<string> {
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', traceresponse: `00-${TRACE}-00f067aa0ba902b7-01` });
    res.end(JSON.stringify({ firstRequest: false }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export function harness(t: Tap, tools?: string[]): Harness {
  const h = new Harness(tools);
  t.teardown(() => h.cleanup());
  return h;
}

/** Replaces the temporary metadata-file path so argv can be compared exactly. */
export function normalise(argv: string[]): string[] {
  return argv.map((a) => a.replace(/--metadata-file \S+/, '--metadata-file <tmp>/metadata.json'));
}

export const PREFLIGHT_DEV = [
  'kubectl version --client -o json',
  'helm version --short',
  'docker buildx version',
  'aws sts get-caller-identity --output json',
];
export const PREFLIGHT_NO_DOCKER = PREFLIGHT_DEV.filter((l) => !l.startsWith('docker'));

export const kubeconfig = (env: 'dev' | 'prod'): string =>
  `aws eks update-kubeconfig --region eu-west-1 --name knfn-${env} --kubeconfig ${env === 'dev' ? KUBE_DEV : KUBE_PROD} --alias knative-fn-${env}`;

export function helm(env: 'dev' | 'prod', repo: string): string {
  return [
    `helm upgrade --install fn ${ROOT}/chart --kubeconfig ${env === 'dev' ? KUBE_DEV : KUBE_PROD} --namespace functions`,
    `--values ${ROOT}/${FIXTURE_FUNCTION}/values.yaml --values ${ROOT}/platform/envs/${env}/function-values.yaml --values ${ROOT}/.cache/deploy/${env}/platform-values.json`,
    `--set-string image.repository=${repo} --set-string image.digest=${DIGEST} --history-max 10 --wait=false`,
  ].join(' ');
}

export const waitAndGet = (env: 'dev' | 'prod'): string[] => {
  const k = env === 'dev' ? KUBE_DEV : KUBE_PROD;
  return [
    `kubectl --kubeconfig ${k} --namespace functions wait ksvc/fn --for=condition=Ready --timeout=300s`,
    `kubectl --kubeconfig ${k} --namespace functions get ksvc fn -o json`,
  ];
};

export function devWorld(url: string, extra: Rule[] = []): Rule[] {
  return [
    ...extra,
    ...preflightRules(),
    { tool: 'aws', args: ssmArgs('dev'), stdout: `${platformOutputs('dev')}\n` },
    { tool: 'aws', prefix: ['ecr', 'get-login-password'], stdout: 'not-a-real-password\n' },
    { tool: 'aws', prefix: ['ecr', 'describe-images'], includes: [`imageTag=${COMMIT}`], exit: 254, stderr: NOT_FOUND },
    { tool: 'docker', prefix: ['login'], stdout: 'Login Succeeded\n' },
    {
      tool: 'docker',
      prefix: ['buildx', 'build'],
      writeArgFile: { flag: '--metadata-file', content: JSON.stringify({ 'containerimage.digest': DIGEST, 'image.name': `${REPO}:${COMMIT}` }) },
    },
    { tool: 'kubectl', includes: ['get', 'ksvc'], stdout: ksvc({ url, image: `${REPO}@${DIGEST}` }) },
  ];
}

export const NOT_FOUND = '\nAn error occurred (ImageNotFoundException) when calling the DescribeImages operation: The image requested does not exist\n';

/** The check for an already built commit (tags are immutable in ECR). */
export const TAG_CHECK = `aws ecr describe-images --region eu-west-1 --repository-name knfn-dev-fn --image-ids imageTag=${COMMIT} --output json`;

/** The deploys under test build and deploy the basic fixture function, whatever function/example holds. */
export const FIXTURE_FUNCTION = 'function/test/fixtures/basic';
export const ENV = { AWS_PROFILE: 'deployer', GIT_COMMIT: COMMIT, SMOKE_TIMEOUT_SECONDS: '5', FUNCTION: FIXTURE_FUNCTION };

export function prodWorld(prodUrl: string, extra: Rule[] = []): Rule[] {
  return [
    ...extra,
    ...preflightRules(),
    { tool: 'aws', args: ssmArgs('dev'), stdout: platformOutputs('dev') },
    { tool: 'aws', args: ssmArgs('prod'), stdout: platformOutputs('prod') },
    { tool: 'kubectl', includes: [KUBE_DEV, 'get', 'ksvc'], stdout: ksvc({ url: 'http://dev.invalid', image: `${REPO}@${DIGEST}` }) },
    { tool: 'kubectl', includes: [KUBE_PROD, 'get', 'ksvc'], stdout: ksvc({ url: prodUrl, image: `${PROD_REPO}@${DIGEST}`, revision: 'fn-00007' }) },
    // prod's registry: not there before the copy, there after it.
    { tool: 'aws', prefix: ['ecr', 'describe-images'], includes: ['knfn-prod-fn'], exit: 254, stderr: NOT_FOUND, times: 1 },
    { tool: 'aws', prefix: ['ecr', 'describe-images'], stdout: JSON.stringify({ imageDetails: [{ imageDigest: DIGEST, imageTags: [COMMIT] }] }) },
    { tool: 'aws', prefix: ['ecr', 'get-login-password'], stdout: 'not-a-real-password\n' },
  ];
}

export const DEV_SOURCE = [
  SSM_DEV,
  kubeconfig('dev'),
  `kubectl --kubeconfig ${KUBE_DEV} --namespace functions get ksvc fn -o json`,
  `aws ecr describe-images --region eu-west-1 --repository-name knfn-dev-fn --image-ids imageDigest=${DIGEST} --output json`,
];
export const COPY = [
  `aws ecr describe-images --region eu-west-1 --repository-name knfn-prod-fn --image-ids imageDigest=${DIGEST} --output json`,
  'aws ecr get-login-password --region eu-west-1',
  `docker login --username AWS --password-stdin ${PROD_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`,
  'aws ecr get-login-password --region eu-west-1',
  `docker login --username AWS --password-stdin ${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`,
  `docker buildx imagetools create --prefer-index=false --tag ${PROD_REPO}:${COMMIT} ${REPO}@${DIGEST}`,
  `aws ecr describe-images --region eu-west-1 --repository-name knfn-prod-fn --image-ids imageDigest=${DIGEST} --output json`,
];

