/**
 * Route schemas are valid JSON Schema. The function skips ajv's meta-schema check at start-up (it costs the cold
 * start the compilation of the meta-schema); 'knative-fn/testing' checkRouteSchemas() makes that check for every
 * schema of every route instead (the example's tests run it on the example).
 */
import t from 'tap';
import Fastify from 'fastify';
import { checkRouteSchemas } from '../src/testing.js';
import { serverOptions } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import * as basic from './fixtures/basic/index.js';

t.test("every route schema of a function is checked against the JSON Schema meta-schema", async (t) => {
  const { checked, invalid } = await checkRouteSchemas(basic);
  t.ok(checked >= 8, `found ${checked} schemas`);
  t.same(invalid, []);
});

t.test('the check catches what start-up no longer does: a keyword value out of its range', async (t) => {
  // ajv still rejects a keyword value of the wrong type when it compiles (minLength: "one"); not this one.
  const broken = { type: 'object', properties: { name: { type: 'string', maxLength: -1 } } };
  const { invalid } = await checkRouteSchemas({
    routes: async (app) => {
      app.get('/broken', { schema: { querystring: broken } }, async () => ({}));
    },
  });
  t.equal(invalid.length, 1);
  t.match(invalid[0], /^GET \/broken querystring: .*maxLength must be >= 0/);
  // And such a schema still compiles at start-up with the function's settings: only this check would notice.
  const config = loadConfig({ PORT: '0', METRICS_PORT: '0', SECRETS: '' });
  const app = Fastify(serverOptions(config, createLogger('silent', {})));
  app.get('/', { schema: { querystring: broken } }, async () => ({}));
  await t.resolves(async () => {
    await app.ready();
  }, 'starts: the meta-schema check is off at start-up');
  await app.close();
});
