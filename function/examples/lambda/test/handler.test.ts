/** The Lambda example, run by the runtime unchanged: `app.inject` per path. */
import t from 'tap';
import { build } from 'knative-fn/testing';
import { randomBytes } from 'node:crypto';
import * as lambda from '../index.ts';

t.test('any path: the event and the context as the handler saw them', async (t) => {
  const fn = await build(lambda, { env: { K_SERVICE: 'example' } });
  t.teardown(() => fn.close());
  const res = await fn.app.inject({ url: '/hello/world?x=1' });
  t.equal(res.statusCode, 200);
  const body = res.json<Record<string, unknown>>();
  t.equal(body.path, '/hello/world');
  t.equal(body.method, 'GET');
  t.same(body.query, { x: '1' });
  t.equal(body.function, 'example');
  t.equal(body.arn, 'arn:aws:lambda:us-east-1:000000000000:function:example');
  t.ok(fn.logs().some((line) => line.msg === 'lambda-style handler invoked' && line.path === '/hello/world'), 'the handler logged through context.logger');
});

t.test('/echo: a binary body comes back byte for byte', async (t) => {
  const fn = await build(lambda);
  t.teardown(() => fn.close());
  const bytes = randomBytes(1000);
  const res = await fn.app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/octet-stream' }, payload: bytes });
  t.equal(res.statusCode, 200);
  t.ok(res.rawPayload.equals(bytes));
});
