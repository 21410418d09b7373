import t from 'tap';
import { Ajv } from 'ajv';
import envSchema from 'env-schema';
import { ConfigError, loadConfig, RUNTIME_ENV, type EnvOf } from '../src/config.js';
import contract from '../../chart/files/contract.json' with { type: 'json' };

t.test('defaults come from the contract', async (t) => {
  const c = loadConfig({});
  t.equal(c.port, contract.ports.http);
  t.equal(c.metricsPort, contract.ports.metrics);
  t.equal(c.host, '0.0.0.0', 'binds all interfaces: queue-proxy dials 127.0.0.1, the kubelet the pod IP');
  t.same(c.secretIds, []);
  t.equal(c.logLevel, 'info');
  t.equal(c.requestTimeoutSeconds, 300);
  t.equal(c.service, 'function');
  t.equal(c.env.PORT, contract.ports.http, 'app.config has every variable by name, typed');
  t.equal(c.env.LOG_LEVEL, 'info');
});

t.test('empty and blank values are unset; values are trimmed; the log level in any case', async (t) => {
  const c = loadConfig({ PORT: '', METRICS_PORT: '  ', LOG_LEVEL: ' DEBUG ', HOST: '127.0.0.1' });
  t.equal(c.port, contract.ports.http);
  t.equal(c.metricsPort, contract.ports.metrics);
  t.equal(c.logLevel, 'debug');
  t.equal(c.host, '127.0.0.1', 'HOST moves both listeners (make dev binds loopback)');
});

t.test("the function's own variables: validated with the runtime's, on app.config", async (t) => {
  const env = {
    GREETING: { type: 'string', default: 'Hello' },
    MAX_ITEMS: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
    FEATURE_X: { type: 'boolean', default: false },
  } as const;
  const c = loadConfig({ MAX_ITEMS: '25', FEATURE_X: 'true', UNRELATED: 'x' }, env);
  // Typed from the same properties (an author augments FunctionEnv with EnvOf<typeof env> for app.config).
  const own: EnvOf<typeof env> = c.env as unknown as EnvOf<typeof env>;
  t.same({ GREETING: own.GREETING, MAX_ITEMS: own.MAX_ITEMS, FEATURE_X: own.FEATURE_X }, { GREETING: 'Hello', MAX_ITEMS: 25, FEATURE_X: true }, 'defaults and coerced values');
  t.notOk('UNRELATED' in c.env, 'names outside the schema are not on app.config');
  t.throws(() => loadConfig({ MAX_ITEMS: '500' }, env), { name: 'ConfigError', variable: 'MAX_ITEMS', message: /MAX_ITEMS must be a whole number from 1 to 100 \(got 500\)/ });
  t.throws(() => loadConfig({ FEATURE_X: 'maybe' }, env), { variable: 'FEATURE_X', message: /must be true or false \(got "maybe"\)/ });
  t.throws(() => loadConfig({}, { PORT: { type: 'string' } }), { variable: 'PORT', message: /runtime's own/ }, "a function cannot redefine the runtime's variables");
  t.throws(() => loadConfig({}, { OTEL_SERVICE_NAME: { type: 'string' } }), { name: 'ConfigError', variable: 'OTEL_SERVICE_NAME' }, "nor the OpenTelemetry SDK's");
});

t.test('OTEL_* variables are not the schema\'s: the OpenTelemetry SDK reads them', async (t) => {
  t.notOk(Object.keys(RUNTIME_ENV).some((n) => n.startsWith('OTEL_')));
  t.doesNotThrow(() => loadConfig({ OTEL_TRACES_SAMPLER: 'anything' }));
});

t.test('the schema is a valid JSON schema, and env-schema gives the same verdicts and values', async (t) => {
  const schema = { type: 'object', properties: RUNTIME_ENV };
  t.ok(new Ajv({ allowUnionTypes: true }).validateSchema(schema), 'valid against the JSON Schema meta-schema (checked here, not at start-up)');
  for (const env of [{}, { PORT: '8081', LOG_LEVEL: 'warn' }, { PORT: 'abc' }, { BODY_LIMIT_BYTES: '0' }, { LOG_LEVEL: 'loud' }, { SECRETS: 'a,b', AWS_REGION: 'eu-west-1' }]) {
    let ours: unknown;
    let theirs: unknown;
    try {
      ours = loadConfig(env).env;
    } catch (err) {
      ours = (err as ConfigError).variable;
    }
    try {
      theirs = envSchema({ schema: structuredClone(schema), data: env, env: false });
    } catch (err) {
      theirs = (err as { errors: Array<{ instancePath: string }> }).errors[0]!.instancePath.slice(1);
    }
    t.same(ours, theirs, `same outcome for ${JSON.stringify(env)}`);
  }
});

t.test('Knative identity and secrets list', async (t) => {
  const c = loadConfig({ K_SERVICE: 'fn', K_REVISION: 'fn-00003', SECRETS: ' a, arn:aws:secretsmanager:eu-west-1:123456789012:secret:b-AbCdEf ,a,', AWS_REGION: 'eu-west-1' });
  t.equal(c.service, 'fn');
  t.equal(c.revision, 'fn-00003');
  t.same(c.secretIds, ['a', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:b-AbCdEf'], 'trimmed, de-duplicated, order kept');
});

const bad: Array<[Record<string, string>, string, RegExp]> = [
  [{ PORT: 'abc' }, 'PORT', /whole number from 0 to 65535 \(got "abc"\)/],
  [{ PORT: '70000' }, 'PORT', /got 70000/],
  [{ PORT: '8012' }, 'PORT', /queue-proxy reserves/],
  [{ METRICS_PORT: '9090' }, 'METRICS_PORT', /queue-proxy reserves/],
  [{ PORT: '8080', METRICS_PORT: '8080' }, 'METRICS_PORT', /must differ from PORT/],
  [{ SECRETS: 'ok,bad id!' }, 'SECRETS', /invalid secret id "bad id!"/],
  [{ SECRETS: 'x' }, 'AWS_REGION', /must be set when SECRETS lists secrets/],
  [{ AWS_REGION: 'Frankfurt' }, 'AWS_REGION', /AWS region such as eu-west-1/],
  [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL', /must be one of fatal, error/],
  [{ BODY_LIMIT_BYTES: '0' }, 'BODY_LIMIT_BYTES', /from 1 to/],
  [{ REQUEST_TIMEOUT_SECONDS: '1.5' }, 'REQUEST_TIMEOUT_SECONDS', /whole number/],
  [{ SHUTDOWN_TIMEOUT_SECONDS: '-1' }, 'SHUTDOWN_TIMEOUT_SECONDS', /whole number/],
  [{ SECRETS_REFRESH_SECONDS: 'soon' }, 'SECRETS_REFRESH_SECONDS', /whole number/],
];

for (const [env, variable, message] of bad) {
  t.test(`rejects ${JSON.stringify(env)} naming ${variable}`, async (t) => {
    let caught: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof ConfigError, 'throws a ConfigError');
    const e = caught as ConfigError;
    t.equal(e.variable, variable);
    t.match(e.message, new RegExp(`^invalid configuration: ${variable} `));
    t.match(e.message, message);
  });
}

/** The README's table of the runtime's variables, generated from the schema: one row per RUNTIME_ENV property. */
function configTable(): string {
  const rows = Object.entries(RUNTIME_ENV).map(([name, p]) => {
    const d = 'default' in p ? p.default : undefined;
    const shown = d === undefined ? '(none)' : d === '' ? 'empty' : `\`${String(d)}\``;
    const values = 'enum' in p ? ` (${p.enum.map((v) => `\`${v}\``).join(', ')})` : '';
    const range = p.type === 'integer' ? ` (${p.minimum} to ${p.maximum})` : '';
    return `| \`${name}\` | ${shown} | ${p.description}${values}${range} |`;
  });
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

t.test("README's configuration table is the schema's (generated: paste the expected table on a failure)", async (t) => {
  const { readFileSync } = await import('node:fs');
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## What the runtime does'));
  const start = section.indexOf('| variable | default | meaning |');
  const table = section.slice(start, section.indexOf('\n\n', start));
  t.equal(table, configTable(), 'README.md "Configuration" table = the RUNTIME_ENV schema');
});

t.test("a function's variables reach its routes as app.config, typed", async (t) => {
  const { startApp } = await import('./helpers/app.js');
  const env = { GREETING: { type: 'string', default: 'Hello' }, MAX_ITEMS: { type: 'integer', default: 10 } } as const;
  const { app } = await startApp(t, {
    env: { GREETING: 'Hej', PORT: '0' },
    fn: {
      env,
      routes: async (app) => {
        const config = app.config as unknown as EnvOf<typeof env>;
        app.get('/greet', async () => ({ greeting: config.GREETING, max: config.MAX_ITEMS, level: app.config.LOG_LEVEL }));
      },
    },
  });
  const r = await app.inject({ url: '/greet' });
  t.same(r.json(), { greeting: 'Hej', max: 10, level: 'info' });
});
