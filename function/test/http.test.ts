import t, { type Test } from 'tap';
import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { startApp } from './helpers/app.js';
import { startMoto } from './helpers/moto.js';

const KEY = 'k3y-for-tests-only-0123456789';

async function keyedApp(t: Test, extraEnv: Record<string, string> = {}) {
  const moto = await startMoto(t);
  await moto.createSecret('fn/keyed', JSON.stringify({ FIXTURE_KEY: KEY }));
  Object.assign(process.env, moto.env);
  return startApp(t, { env: { ...moto.env, SECRETS: 'fn/keyed', ...extraEnv } });
}

t.test('a keyed digest round-trips with the key from Secrets Manager', async (t) => {
  const { url, spans } = await keyedApp(t);
  const body = '{ "order": 42, "items": ["a", "b"] }';
  const signed = await fetch(`${url}/digest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  t.equal(signed.status, 200);
  const { digest: signature, algorithm, bytes } = (await signed.json()) as { digest: string; algorithm: string; bytes: number };
  t.equal(algorithm, 'HMAC-SHA256');
  t.equal(bytes, Buffer.byteLength(body));
  t.equal(signature, createHmac('sha256', KEY).update(body).digest('hex'), 'HMAC of the exact bytes received (spacing kept)');

  const ok = await fetch(`${url}/digest/check`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-digest': signature }, body });
  t.equal(ok.status, 200);
  t.same(await ok.json(), { valid: true });

  const tampered = await fetch(`${url}/digest/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-digest': signature },
    body: body.replace('42', '43'),
  });
  t.equal(tampered.status, 401, 'a body that was changed does not verify');
  const err = (await tampered.json()) as Record<string, unknown>;
  t.equal(err.error, 'Unauthorized');
  t.equal(err.message, 'the digest does not match this body');

  const load = spans().find((s) => s.name === 'secrets.load');
  t.ok(load, 'start-up recorded a secrets.load span');
  const first = spans().find((s) => s.attributes['function.cold_start'] === true);
  t.equal(first?.name, 'POST /digest');
  t.same(first?.links.map((l) => l.context.spanId), [load?.spanContext().spanId], "the first request's span links to the start-up span");
  t.notMatch(JSON.stringify(spans().map((s) => s.attributes)), KEY, 'no span attribute holds the key');
});

t.test('bad input gets the right 4xx with a JSON body', async (t) => {
  const { url } = await keyedApp(t, { BODY_LIMIT_BYTES: '1024' });
  const cases: Array<[string, RequestInit & { path: string }, number, RegExp]> = [
    ['malformed JSON', { path: '/digest', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' }, 400, /not valid JSON/],
    ['empty JSON body', { path: '/digest', method: 'POST', headers: { 'content-type': 'application/json' }, body: '' }, 400, /empty/],
    ['a JSON scalar', { path: '/digest', method: 'POST', headers: { 'content-type': 'application/json' }, body: '42' }, 400, /body must be object/],
    ['prototype pollution', { path: '/digest', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"__proto__":{"x":1}}' }, 400, /not valid JSON/],
    ['wrong content type', { path: '/digest', method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' }, 415, /Unsupported Media Type/],
    ['oversize body', { path: '/digest', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 'x'.repeat(2048) }) }, 413, /too large/i],
    ['unknown route', { path: '/nope', method: 'GET' }, 404, /no route for GET \/nope/],
    ['missing signature', { path: '/digest/check', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, 400, /x-digest/],
    ['malformed signature', { path: '/digest/check', method: 'POST', headers: { 'content-type': 'application/json', 'x-digest': 'zz' }, body: '{}' }, 400, /x-digest/],
    ['invalid signature', { path: '/digest/check', method: 'POST', headers: { 'content-type': 'application/json', 'x-digest': 'ab'.repeat(32) }, body: '{}' }, 401, /does not match/],
    ['unknown query parameter', { path: '/?admin=1', method: 'GET' }, 400, /must NOT have additional properties/],
    ['name too long', { path: `/?name=${'n'.repeat(65)}`, method: 'GET' }, 400, /name/],
  ];
  for (const [name, { path, ...init }, status, message] of cases) {
    const res = await fetch(`${url}${path}`, init);
    t.equal(res.status, status, `${name}: ${status}`);
    t.match(res.headers.get('content-type'), /^application\/json/, `${name}: JSON`);
    const body = (await res.json()) as Record<string, unknown>;
    t.equal(body.statusCode, status, `${name}: statusCode in body`);
    t.match(body.message, message, `${name}: says what is wrong`);
    t.match(body.requestId, /^[0-9a-f-]{36}$/, `${name}: requestId`);
  }
  t.equal(({} as Record<string, unknown>).x, undefined, 'the prototype was not polluted');
});

t.test('helmet headers for a JSON API; no CORS; no x-powered-by', async (t) => {
  const { url } = await startApp(t);
  const res = await fetch(url, { headers: { origin: 'https://evil.example' } });
  const h = res.headers;
  t.equal(h.get('content-security-policy'), "default-src 'none';frame-ancestors 'none'");
  t.equal(h.get('x-content-type-options'), 'nosniff');
  t.equal(h.get('x-frame-options'), 'DENY');
  t.equal(h.get('strict-transport-security'), 'max-age=31536000; includeSubDomains');
  t.equal(h.get('referrer-policy'), 'no-referrer');
  t.equal(h.get('cross-origin-resource-policy'), 'same-origin');
  t.equal(h.get('cross-origin-opener-policy'), 'same-origin');
  t.equal(h.get('x-powered-by'), null);
  t.equal(h.get('access-control-allow-origin'), null, 'no CORS');
});

t.test('keep-alive outlives queue-proxy idle reuse (90 s)', async (t) => {
  const { url } = await startApp(t);
  const res = await fetch(url);
  t.equal(res.headers.get('keep-alive'), 'timeout=95');
});

t.test('X-Forwarded-* is trusted from loopback (queue-proxy) only', async (t) => {
  const { app, url, spans } = await startApp(t);
  const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7', 'x-forwarded-host': 'evil.example' };
  await fetch(url, { headers: forwarded });
  t.equal(spans()[0]?.attributes['url.scheme'], 'https', 'from loopback: trusted');
  t.equal(spans()[0]?.attributes['client.address'], '203.0.113.7');
  // The same headers from a peer that is not loopback (a pod IP reached past queue-proxy) are ignored.
  for (const peer of ['10.0.0.5', '192.0.2.10', 'fd00::5']) {
    const res = await app.inject({ method: 'GET', url: '/', headers: forwarded, remoteAddress: peer });
    t.equal(res.statusCode, 200);
    const span = spans().at(-1);
    t.equal(span?.attributes['url.scheme'], 'http', `from ${peer}: X-Forwarded-Proto ignored`);
    t.equal(span?.attributes['client.address'], peer, `from ${peer}: X-Forwarded-For ignored`);
    t.not(span?.attributes['server.address'], 'evil.example', `from ${peer}: X-Forwarded-Host ignored`);
  }
});

t.test('a slow client body does not hold the process hostage past its limit', async (t) => {
  const { url } = await startApp(t);
  const port = Number(new URL(url).port);
  const status = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write('POST /digest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n');
    });
    let data = '';
    socket.on('data', (d) => {
      data += String(d);
      socket.destroy();
      resolve(data.split('\r\n', 1)[0] ?? '');
    });
    socket.on('error', reject);
  });
  t.equal(status, 'HTTP/1.1 413 Payload Too Large', 'a declared length over the limit is refused before any body is read');
});
