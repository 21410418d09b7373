/**
 * Route schemas are valid JSON Schema. The function skips ajv's meta-schema check at start-up (it costs the cold
 * start the compilation of the meta-schema); this test makes that check for every schema of every route instead.
 */
import t from 'tap';
import Fastify, { type FastifyPluginAsync, type RouteOptions } from 'fastify';
import { Ajv } from 'ajv';
import * as userFunction from '../src/function.js';
import { serverOptions } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { SecretStore } from '../src/secrets.js';

type Schemas = Record<string, unknown>;

/** Every schema the function's routes declare, named by route and part (body, querystring, response 200...). */
async function routeSchemas(routes: FastifyPluginAsync): Promise<Array<[string, unknown]>> {
  const app = Fastify();
  const found: Array<[string, unknown]> = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const schema = (route.schema ?? {}) as Schemas;
    for (const [part, value] of Object.entries(schema)) {
      if (part === 'response') {
        for (const [status, response] of Object.entries(value as Schemas)) found.push([`${route.method} ${route.url} response ${status}`, response]);
      } else {
        found.push([`${route.method} ${route.url} ${part}`, value]);
      }
    }
  });
  app.decorate('secrets', new SecretStore({ ids: [], region: undefined, refreshSeconds: 0, logger: createLogger('silent', {}) }));
  app.decorate('knative', { service: 's', revision: 'r' });
  await app.register(routes);
  await app.ready();
  await app.close();
  return found;
}

function metaErrors(schema: unknown): string {
  const ajv = new Ajv({ strict: false });
  return ajv.validateSchema(schema as object) ? '' : ajv.errorsText(ajv.errors);
}

t.test('every route schema of the function is valid against the JSON Schema meta-schema', async (t) => {
  const schemas = await routeSchemas(userFunction.routes as FastifyPluginAsync);
  t.ok(schemas.length >= 8, `found ${schemas.length} schemas`);
  for (const [name, schema] of schemas) t.equal(metaErrors(schema), '', name);
});

t.test('the check catches what start-up no longer does: a keyword value out of its range', async (t) => {
  // ajv still rejects a keyword value of the wrong type when it compiles (minLength: "one"); not this one.
  const broken = { type: 'object', properties: { name: { type: 'string', maxLength: -1 } } };
  t.match(metaErrors(broken), /maxLength must be >= 0/);
  // And such a schema still compiles at start-up with the function's settings: only this test would notice.
  const config = loadConfig({ PORT: '0', METRICS_PORT: '0', SECRETS: '' });
  const app = Fastify(serverOptions(config, createLogger('silent', {})));
  app.get('/', { schema: { querystring: broken } }, async () => ({}));
  await t.resolves(async () => {
    await app.ready();
  }, 'starts: the meta-schema check is off at start-up');
  await app.close();
});
