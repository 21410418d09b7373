/**
 * The OTEL_* variables are read by @opentelemetry/sdk-node's NodeSDK itself, not by the function: these tests hold
 * that the SDK's reading reaches the function's spans (resource, sampler) and what the function adds on top (the
 * Knative identity as the default service name).
 */
import { SpanKind } from '@opentelemetry/api';
import t, { type Test } from 'tap';
import { startApp } from './helpers/app.js';

/** Sets process.env for one test (NodeSDK reads process.env), restored in teardown. */
function withEnv(t: Test, env: Record<string, string>): void {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  t.teardown(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

const knative = { K_SERVICE: 'orders', K_REVISION: 'orders-00002' };

t.test('service.name and service.version default to K_SERVICE and K_REVISION', async (t) => {
  const { url, spans } = await startApp(t, { env: knative });
  await fetch(url);
  t.match(spans()[0]?.resource.attributes, { 'service.name': 'orders', 'service.version': 'orders-00002', 'faas.name': 'orders' });
  t.ok(spans()[0]?.resource.attributes['telemetry.sdk.name'], "the SDK's default resource is kept");
});

t.test('OTEL_RESOURCE_ATTRIBUTES overrides them, OTEL_SERVICE_NAME overrides both', async (t) => {
  withEnv(t, { OTEL_RESOURCE_ATTRIBUTES: 'service.name=billing,team=pay%20ments' });
  const a = await startApp(t, { env: knative });
  await fetch(a.url);
  t.match(a.spans()[0]?.resource.attributes, { 'service.name': 'billing', team: 'pay ments', 'service.version': 'orders-00002' });
  await a.app.close();
});

t.test('OTEL_SERVICE_NAME wins over OTEL_RESOURCE_ATTRIBUTES', async (t) => {
  withEnv(t, { OTEL_SERVICE_NAME: 'explicit', OTEL_RESOURCE_ATTRIBUTES: 'service.name=billing' });
  const { url, spans } = await startApp(t, { env: knative });
  await fetch(url);
  t.equal(spans()[0]?.resource.attributes['service.name'], 'explicit');
});

t.test('OTEL_TRACES_SAMPLER is the SDK\'s: always_off records nothing, and traceresponse says so', async (t) => {
  withEnv(t, { OTEL_TRACES_SAMPLER: 'always_off' });
  const { url, spans } = await startApp(t);
  const res = await fetch(url);
  t.match(res.headers.get('traceresponse'), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  t.equal(spans().filter((s) => s.kind === SpanKind.SERVER).length, 0);
});

t.test('OTEL_TRACES_SAMPLER=parentbased_traceidratio with OTEL_TRACES_SAMPLER_ARG=0 follows a sampled caller only', async (t) => {
  withEnv(t, { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
  const { url, spans } = await startApp(t);
  await fetch(url);
  t.equal(spans().length, 0, 'a root is not sampled at ratio 0');
  await fetch(url, { headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
  t.equal(spans().length, 1, "a sampled caller's child is");
});
