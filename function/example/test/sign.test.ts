import t from 'tap';
import { createHmac } from 'node:crypto';
import { buildExample, KEY } from './helper.ts';

const json = { 'content-type': 'application/json' };

t.test('POST /sign then /verify round-trips with SIGNING_KEY, over the exact bytes received', async (t) => {
  const { app, logs } = await buildExample(t);
  const body = '{ "order": 42, "items": ["a", "b"] }';
  const signed = await app.inject({ method: 'POST', url: '/sign', headers: json, payload: body });
  t.equal(signed.statusCode, 200);
  const expected = createHmac('sha256', KEY).update(body).digest('hex');
  t.same(signed.json(), { algorithm: 'HMAC-SHA256', signature: expected, bytes: Buffer.byteLength(body) }, 'spacing kept');

  const ok = await app.inject({ method: 'POST', url: '/verify', headers: { ...json, 'x-signature': expected }, payload: body });
  t.equal(ok.statusCode, 200);
  t.same(ok.json(), { valid: true });

  const tampered = await app.inject({ method: 'POST', url: '/verify', headers: { ...json, 'x-signature': expected }, payload: body.replace('42', '43') });
  t.equal(tampered.statusCode, 401);
  t.match(tampered.json(), { error: 'Unauthorized', message: 'the signature does not match this body' });
  t.notMatch(JSON.stringify(logs()), KEY, 'the key is in no log line');
});

t.test('bad input: 400 with what is wrong, 415 for another content type', async (t) => {
  const { app } = await buildExample(t);
  const cases: Array<[string, string, Record<string, string>, string, number, RegExp]> = [
    ['malformed JSON', '/sign', json, '{"a":', 400, /not valid JSON/],
    ['a JSON scalar', '/sign', json, '42', 400, /body must be object/],
    ['wrong content type', '/sign', { 'content-type': 'text/plain' }, 'hi', 415, /Unsupported Media Type/],
    ['missing signature', '/verify', json, '{}', 400, /x-signature/],
    ['malformed signature', '/verify', { ...json, 'x-signature': 'zz' }, '{}', 400, /x-signature/],
  ];
  for (const [name, url, headers, payload, status, message] of cases) {
    const res = await app.inject({ method: 'POST', url, headers, payload });
    t.equal(res.statusCode, status, `${name}: ${status}`);
    t.match(res.json(), { statusCode: status, message }, `${name}: says what is wrong`);
  }
});

t.test('without SIGNING_KEY both routes answer 503 and say which secret is missing', async (t) => {
  const { app } = await buildExample(t, {});
  for (const url of ['/sign', '/verify']) {
    const res = await app.inject({ method: 'POST', url, headers: { ...json, 'x-signature': 'ab'.repeat(32) }, payload: '{}' });
    t.equal(res.statusCode, 503, url);
    t.match(res.json(), { error: 'Service Unavailable', message: /SIGNING_KEY is not configured/ }, url);
  }
});
