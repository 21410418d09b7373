/**
 * The function builds its tracer from @opentelemetry/sdk-trace instead of @opentelemetry/sdk-node's NodeSDK (which loads
 * every exporter it could be configured with, at a large start-up cost). This test holds it to NodeSDK's configuration
 * surface: for each OTEL_* setting, the sampler the function builds is the one NodeSDK builds.
 */
import { NodeSDK } from '@opentelemetry/sdk-node';
import { InMemorySpanExporter, SimpleSpanProcessor, type Sampler } from '@opentelemetry/sdk-trace';
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { resourceAttributesFromEnv, samplerFromEnv } from '../src/telemetry.js';

const quiet = { warn: () => {}, error: () => {} };

const cases: Array<Record<string, string>> = [
  {},
  { OTEL_TRACES_SAMPLER: 'always_on' },
  { OTEL_TRACES_SAMPLER: 'always_off' },
  { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.3' },
  { OTEL_TRACES_SAMPLER: 'parentbased_always_off' },
  { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio' },
  { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '7' },
  { OTEL_TRACES_SAMPLER: 'no_such_sampler' },
];

function nodeSdkSampler(env: Record<string, string>): string {
  const saved = { ...process.env };
  Object.assign(process.env, { OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', OTEL_LOG_LEVEL: 'none' }, env);
  try {
    const sdk = new NodeSDK({
      spanProcessors: [new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() })],
      instrumentations: [],
      autoDetectResources: false,
    });
    sdk.start();
    const provider = (sdk as unknown as { _tracerProvider: { getTracer(n: string): { _sampler: Sampler } } })._tracerProvider;
    const description = provider.getTracer('conformance')._sampler.toString();
    void sdk.shutdown();
    return description;
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

for (const env of cases) {
  t.test(`sampler for ${JSON.stringify(env)}`, async (t) => {
    t.equal(samplerFromEnv(env, quiet).toString(), nodeSdkSampler(env));
  });
}

t.test('service.name and service.version: OTEL_SERVICE_NAME, else OTEL_RESOURCE_ATTRIBUTES, else K_SERVICE', async (t) => {
  const config = loadConfig({ K_SERVICE: 'orders', K_REVISION: 'orders-00002' });
  t.match(resourceAttributesFromEnv({}, config), { 'service.name': 'orders', 'service.version': 'orders-00002', 'faas.name': 'orders' });
  t.match(resourceAttributesFromEnv({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=billing,team=pay%20ments' }, config), {
    'service.name': 'billing',
    team: 'pay ments',
  });
  t.match(resourceAttributesFromEnv({ OTEL_SERVICE_NAME: 'explicit', OTEL_RESOURCE_ATTRIBUTES: 'service.name=billing' }, config), {
    'service.name': 'explicit',
  });
});
