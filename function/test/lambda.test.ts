import t from 'tap';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { gatewayTime, memoryLimitInMB } from '../src/lambda.js';
import { handler as example } from '../examples/lambda.js';
import { calls, handler } from './fixtures/recording-handler.js';
import { startApp } from './helpers/app.js';

t.test('the event is API Gateway HTTP API payload 2.0', async (t) => {
  const { url } = await startApp(t, { fn: { handler }, env: { K_SERVICE: 'orders', K_REVISION: 'orders-00007', REQUEST_TIMEOUT_SECONDS: '30' } });
  calls.length = 0;
  const res = await fetch(`${url}/things/42?a=1&a=2&b=x%20y&empty=`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: 'c1=v1; c2=v2', 'X-Custom': 'Yes', 'user-agent': 'tester/1.0' },
    body: '{"hello":"world"}',
  });
  t.equal(res.status, 204);
  t.equal(calls.length, 1);
  const { event, context, contextJson, remaining } = calls[0]!;
  t.equal(event.version, '2.0');
  t.equal(event.routeKey, '$default');
  t.equal(event.rawPath, '/things/42');
  t.equal(event.rawQueryString, 'a=1&a=2&b=x%20y&empty=');
  t.same(event.queryStringParameters, { a: '1,2', b: 'x y', empty: '' }, 'repeated keys joined with commas');
  t.same(event.cookies, ['c1=v1', 'c2=v2']);
  t.notOk('cookie' in event.headers, 'cookies move out of headers');
  t.equal(event.headers['x-custom'], 'Yes', 'header names are lower-cased');
  t.equal(event.headers['content-type'], 'application/json');
  t.equal(event.body, '{"hello":"world"}');
  t.equal(event.isBase64Encoded, false);
  t.equal(event.requestContext.http.method, 'POST');
  t.equal(event.requestContext.http.path, '/things/42');
  t.equal(event.requestContext.http.protocol, 'HTTP/1.1');
  t.equal(event.requestContext.http.sourceIp, '127.0.0.1');
  t.equal(event.requestContext.http.userAgent, 'tester/1.0');
  t.match(event.requestContext.requestId, /^[0-9a-f-]{36}$/);
  t.match(event.requestContext.time, /^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
  t.ok(Math.abs(event.requestContext.timeEpoch - Date.now()) < 10_000);

  t.equal(context.functionName, 'orders');
  t.equal(context.functionVersion, 'orders-00007');
  t.equal(context.awsRequestId, event.requestContext.requestId);
  t.match(context.memoryLimitInMB, /^\d+$/);
  t.ok(remaining > 25_000 && remaining <= 30_000, `remaining time ${remaining} ms comes from REQUEST_TIMEOUT_SECONDS`);
  t.match(context.traceId, /^[0-9a-f]{32}$/);
  t.equal(typeof context.logger.info, 'function');
  t.same(context.secrets, {}, 'no secrets configured');
  t.notMatch(contextJson, /secrets/, 'secrets are not enumerable: serialising the context never prints them');
});

t.test('results are sent the way API Gateway does', async (t) => {
  const { url } = await startApp(t, { fn: { handler } });

  const plain = await fetch(`${url}/plain`);
  t.equal(plain.status, 200, 'a plain value is a 200');
  t.match(plain.headers.get('content-type'), /^application\/json/);
  t.same(await plain.json(), { ok: true, n: 1 });

  const str = await fetch(`${url}/string`);
  t.equal(str.status, 200);
  t.equal(await str.json(), 'just a string', 'a plain string is sent as JSON');

  const structured = await fetch(`${url}/structured`);
  t.equal(structured.status, 201);
  t.equal(structured.headers.get('x-answer'), '42');
  t.equal(structured.headers.get('content-type'), 'text/plain');
  t.same(structured.headers.getSetCookie(), ['a=1; Path=/', 'b=2; HttpOnly']);
  t.equal(await structured.text(), 'created');
});

t.test('binary bodies round-trip through base64 exactly', async (t) => {
  const { url } = await startApp(t, { fn: { handler } });
  calls.length = 0;
  const payload = randomBytes(64 * 1024);
  const res = await fetch(`${url}/binary`, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: payload });
  t.equal(res.status, 200);
  t.equal(calls[0]!.event.isBase64Encoded, true);
  t.equal(calls[0]!.event.body, payload.toString('base64'));
  t.ok(Buffer.from(await res.arrayBuffer()).equals(payload), 'response bytes equal request bytes');
});

t.test('a thrown error is a 500 JSON body without internals', async (t) => {
  const { url, logs, spans } = await startApp(t, { fn: { handler } });
  const res = await fetch(`${url}/throw`);
  t.equal(res.status, 500);
  const body = (await res.json()) as Record<string, unknown>;
  t.equal(body.statusCode, 500);
  t.equal(body.error, 'Internal Server Error');
  t.notMatch(JSON.stringify(body), /hunter2|database|Error:/, 'no message or stack reaches the caller');
  t.match(body.requestId, /^[0-9a-f-]{36}$/);
  const failed = logs().find((l) => l.msg === 'request failed');
  t.ok(failed, 'the error is logged for the operator');
  t.equal(failed?.request_id, body.requestId, 'with the request id the caller got');
  const span = spans().find((s) => s.attributes['http.response.status_code'] === 500);
  t.equal(span?.attributes['error.type'], 'Error', 'the span carries the exception class');

  const bad = await fetch(`${url}/bad-status`);
  t.equal(bad.status, 500, 'an invalid statusCode from the handler is a 500');
});

t.test('the shipped example Lambda handler runs unchanged', async (t) => {
  const { url } = await startApp(t, { fn: { handler: example }, env: { K_SERVICE: 'example' } });
  const res = await fetch(`${url}/hello/world?x=1`);
  t.equal(res.status, 200);
  const body = (await res.json()) as Record<string, unknown>;
  t.equal(body.path, '/hello/world');
  t.equal(body.method, 'GET');
  t.same(body.query, { x: '1' });
  t.equal(body.function, 'example');

  const bytes = randomBytes(1000);
  const echo = await fetch(`${url}/echo`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  t.ok(Buffer.from(await echo.arrayBuffer()).equals(bytes));
});

t.test('a handler and native routes together: routes first, handler for the rest', async (t) => {
  const { url } = await startApp(t, {
    fn: {
      handler,
      routes: async (app) => {
        app.get('/native', { schema: { response: { 200: { type: 'object', properties: { native: { type: 'boolean' } } } } } }, async () => ({ native: true }));
      },
    },
  });
  t.same(await (await fetch(`${url}/native`)).json(), { native: true });
  t.same(await (await fetch(`${url}/plain`)).json(), { ok: true, n: 1 });
});

t.test('duplicate headers are joined with commas', async (t) => {
  const { url } = await startApp(t, { fn: { handler } });
  calls.length = 0;
  const port = new URL(url).port;
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/dup', headers: ['host', '127.0.0.1', 'x-multi', 'a', 'x-multi', 'b'] as unknown as Record<string, string> }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
  t.equal(calls[0]!.event.headers['x-multi'], 'a,b');
});

t.test('helpers', async (t) => {
  t.equal(gatewayTime(new Date(Date.UTC(2020, 2, 12, 19, 3, 58))), '12/Mar/2020:19:03:58 +0000');
  t.equal(memoryLimitInMB(() => '536870912\n'), '512', 'cgroup v2 limit in bytes');
  t.equal(memoryLimitInMB(() => 'max'), '0', 'unlimited');
  t.equal(memoryLimitInMB(() => { throw new Error('ENOENT'); }), '0', 'no cgroup file');
});
