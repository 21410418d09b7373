import t from 'tap';
import { build } from 'knative-fn/testing';
import * as example from '../index.ts';
import { buildExample } from './helper.ts';

t.test('GET / greets the world, names the revision and says whether it was a cold start', async (t) => {
  const { app } = await buildExample(t);
  const first = await app.inject({ url: '/' });
  t.equal(first.statusCode, 200);
  t.same(first.json(), { message: 'Hello, world!', function: 'example', revision: 'example-00001', firstRequest: true });
  const second = await app.inject({ url: '/?name=Ann' });
  t.same(second.json(), { message: 'Hello, Ann!', function: 'example', revision: 'example-00001', firstRequest: false });
});

t.test('GET / refuses unknown query parameters and names too long', async (t) => {
  const { app } = await buildExample(t);
  const unknown = await app.inject({ url: '/?admin=1' });
  t.equal(unknown.statusCode, 400);
  t.match(unknown.json(), { message: /must NOT have additional properties/ });
  const long = await app.inject({ url: `/?name=${'n'.repeat(65)}` });
  t.equal(long.statusCode, 400);
  t.match(long.json(), { message: /name/ });
});

t.test('GET / greets with the GREETING setting; a bad value stops start-up naming the variable', async (t) => {
  const fn = await build(example, { env: { K_SERVICE: 'example', K_REVISION: 'example-00001', GREETING: 'Hej' } });
  t.teardown(() => fn.close());
  t.equal((await fn.app.inject({ url: '/?name=Ann' })).json().message, 'Hej, Ann!');
  await t.rejects(build(example, { env: { GREETING: 'x'.repeat(33) } }), { message: /GREETING/ });
});
