import t from 'tap';
import { ConfigError, loadConfig } from '../src/config.js';
import contract from '../contract.json' with { type: 'json' };

t.test('defaults come from the contract', async (t) => {
  const c = loadConfig({});
  t.equal(c.port, contract.ports.http);
  t.equal(c.metricsPort, contract.ports.metrics);
  t.equal(c.host, '0.0.0.0', 'binds all interfaces: queue-proxy dials 127.0.0.1, the kubelet the pod IP');
  t.same(c.secretIds, []);
  t.equal(c.logLevel, 'info');
  t.equal(c.requestTimeoutSeconds, 300);
  t.equal(c.service, 'function');
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

t.test("README's configuration table documents every variable of the contract", async (t) => {
  const { readFileSync } = await import('node:fs');
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## What the runtime does'));
  for (const name of Object.values(contract.env)) {
    t.match(table, new RegExp('`' + name + '`'), `${name} is documented`);
  }
});
