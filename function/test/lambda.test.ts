import t from 'tap';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { functionArn, gatewayPath, gatewayTime, hostName, LAMBDA_PAYLOAD_LIMIT_BYTES, memoryLimitInMB } from '../src/lambda.js';
import type { FunctionModule } from '../src/api.js';
import type { Callback, Context } from '../src/types.js';
import { calls, handler } from './fixtures/recording-handler.js';
import { startApp } from './helpers/app.js';
import { build } from '../src/testing.js';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with exactly these header lines (fetch would not send Host or repeated headers as given). */
function raw(url: string, path: string, headers: string[], method = 'GET', body?: Buffer): Promise<RawResponse> {
  const port = new URL(url).port;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: headers as unknown as Record<string, string> }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('the event is API Gateway HTTP API payload 2.0', async (t) => {
  const { url } = await startApp(t, { fn: { handler }, env: { K_SERVICE: 'orders', K_REVISION: 'orders-00007', REQUEST_TIMEOUT_SECONDS: '30' } });
  calls.length = 0;
  const res = await fetch(`${url}/things/42?a=1&a=2&b=x%20y&empty=`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: 'c1=v1; c2=v2', 'X-Custom': 'Yes', 'user-agent': 'tester/1.0' },
    body: '{"hello":"world"}',
  });
  t.equal(res.status, 204);
  t.equal(res.headers.get('apigw-requestid'), calls[0]?.event.requestContext.requestId, 'apigw-requestid names the request, as API Gateway does');
  t.equal(calls.length, 1);
  const { event, context, contextJson, remaining } = calls[0]!;
  t.equal(event.version, '2.0');
  t.equal(event.routeKey, '$default');
  t.equal(event.rawPath, '/things/42');
  t.equal(event.rawQueryString, 'a=1&a=2&b=x%20y&empty=');
  t.same({ ...event.queryStringParameters }, { a: '1,2', b: 'x y', empty: '' }, 'repeated keys joined with commas');
  t.same(event.cookies, ['c1=v1', 'c2=v2']);
  t.notOk('cookie' in event.headers, 'cookies move out of headers');
  t.equal(event.headers['x-custom'], 'Yes', 'header names are lower-cased');
  t.equal(event.headers['content-type'], 'application/json');
  t.equal(event.body, '{"hello":"world"}');
  t.equal(event.isBase64Encoded, false);
  t.equal(event.requestContext.accountId, '000000000000');
  t.equal(event.requestContext.apiId, 'orders');
  t.equal(event.requestContext.domainName, '127.0.0.1');
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
  t.equal(context.invokedFunctionArn, 'arn:aws:lambda:us-east-1:000000000000:function:orders');
  t.equal(context.logGroupName, '/aws/lambda/orders');
  t.match(context.logStreamName, /^\d{4}\/\d{2}\/\d{2}\/\[orders-00007\].+$/);
  t.equal(context.awsRequestId, event.requestContext.requestId);
  t.match(context.memoryLimitInMB, /^\d+$/);
  t.equal(context.callbackWaitsForEmptyEventLoop, true);
  t.equal(typeof context.done, 'function');
  t.ok(remaining > 25_000 && remaining <= 30_000, `remaining time ${remaining} ms comes from REQUEST_TIMEOUT_SECONDS`);
  t.match(context.traceId, /^[0-9a-f]{32}$/);
  t.equal(typeof context.logger.info, 'function');
  t.same(context.secrets, {}, 'no secrets configured');
  t.notMatch(contextJson, /secrets/, 'secrets are not enumerable: serialising the context never prints them');
});

t.test('query and header keys named like Object.prototype members are ordinary keys', async (t) => {
  const { url } = await startApp(t, { fn: { handler } });
  calls.length = 0;
  const res = await raw(url, '/q?constructor=1&__proto__=x&toString=a&toString=b&hasOwnProperty=h&valueOf=', [
    'host', '127.0.0.1',
    'constructor', 'c',
    '__proto__', 'p',
  ]);
  t.equal(res.status, 204);
  const { queryStringParameters: qs, headers } = calls[0]!.event;
  t.equal(
    JSON.stringify(qs),
    '{"constructor":"1","__proto__":"x","toString":"a,b","hasOwnProperty":"h","valueOf":""}',
    'every key as sent, none corrupted by or lost to Object.prototype',
  );
  t.equal(Object.getPrototypeOf(qs), null, 'a null-prototype map');
  t.equal(headers.constructor, 'c');
  t.equal(headers.__proto__, 'p', 'a __proto__ header is a header, not lost');
  t.equal(Object.keys(headers).filter((k) => k === '__proto__' || k === 'constructor').length, 2);

  calls.length = 0;
  await raw(url, '/q?a=1', ['host', '127.0.0.1']);
  t.equal(calls[0]!.event.queryStringParameters!.constructor, undefined, 'an absent key is absent, even `constructor`');
});

t.test('domainName, domainPrefix and sourceIp cannot be chosen by the caller', async (t) => {
  const { url } = await startApp(t, { fn: { handler } });
  calls.length = 0;
  // From loopback, as queue-proxy connects: X-Forwarded-* is trusted there, and a client's own values pass through it.
  await raw(url, '/host', ['host', 'orders.example.com:8443', 'x-forwarded-host', 'evil.example', 'x-forwarded-for', '203.0.113.9, 10.0.0.5']);
  const { requestContext, headers } = calls[0]!.event;
  t.equal(requestContext.domainName, 'orders.example.com', 'the Host header (what the ingress routed on), without its port');
  t.equal(requestContext.domainPrefix, 'orders');
  t.equal(headers['x-forwarded-host'], 'evil.example', 'the header itself still reaches the handler, as through API Gateway');
  t.equal(requestContext.http.sourceIp, '10.0.0.5', 'the hop the trusted proxy appended, not the client-written entry');

  calls.length = 0;
  await raw(url, '/host', ['host', '127.0.0.1:1234', 'x-forwarded-host', 'evil.example']);
  t.equal(calls[0]!.event.requestContext.domainName, '127.0.0.1');
  t.equal(calls[0]!.event.requestContext.domainPrefix, '127');

  t.equal(hostName('[::1]:8080'), '[::1]');
  t.equal(hostName('API.Example.COM'), 'api.example.com');
  t.equal(hostName(undefined), '');
});

t.test('paths arrive percent-decoded, as HTTP APIs send them', async (t) => {
  const { url } = await startApp(t, { fn: { handler } });
  calls.length = 0;
  await raw(url, '/caf%C3%A9/a%20b?x=%20', ['host', '127.0.0.1']);
  const { event } = calls[0]!;
  t.equal(event.rawPath, '/café/a b');
  t.equal(event.requestContext.http.path, '/café/a b');
  t.equal(event.rawQueryString, 'x=%20', 'the query string stays raw');
  t.equal(gatewayPath('/100%'), '/100%', 'invalid percent-encoding stays as received');
});

t.test('request bodies are base64-encoded exactly when API Gateway encodes them', async (t) => {
  const { url } = await startApp(t, { fn: { handler } });
  const cases: Array<[string | undefined, boolean]> = [
    ['application/json', false],
    ['application/json; charset=utf-8', false],
    ['text/plain', false],
    ['text/csv;charset=utf-8', false],
    ['application/x-www-form-urlencoded', true],
    ['multipart/form-data; boundary=x', true],
    ['application/xml', true],
    ['application/jsonx', true],
    ['image/png', true],
    [undefined, true],
  ];
  for (const [type, encoded] of cases) {
    calls.length = 0;
    const body = Buffer.from('a=1&b=%C3%A9');
    await raw(url, '/body', ['host', '127.0.0.1', ...(type ? ['content-type', type] : [])], 'POST', body);
    const event = calls[0]!.event;
    t.equal(event.isBase64Encoded, encoded, `${type ?? 'no content type'}: isBase64Encoded ${encoded}`);
    t.equal(event.body, encoded ? body.toString('base64') : body.toString(), `${type ?? 'no content type'}: body`);
  }
});

t.test('results are sent the way API Gateway does', async (t) => {
  const { url } = await startApp(t, { fn: { handler } });

  const plain = await fetch(`${url}/plain`);
  t.equal(plain.status, 200, 'a value without statusCode is a 200');
  t.equal(plain.headers.get('content-type'), 'application/json');
  t.equal(await plain.text(), '{"ok":true,"n":1}');

  const str = await fetch(`${url}/string`);
  t.equal(str.status, 200);
  t.equal(str.headers.get('content-type'), 'application/json');
  t.equal(await str.text(), 'just a string', 'a string is the body as it is, not JSON-quoted');

  const nothing = await fetch(`${url}/nothing`);
  t.equal(await nothing.text(), 'null', 'undefined is what Lambda serialises it as: null');

  const undefinedStatus = await fetch(`${url}/undefined-status`);
  t.equal(undefinedStatus.status, 200);
  t.equal(await undefinedStatus.text(), '{"body":"x"}', 'statusCode: undefined is no statusCode once serialised');

  const noType = await fetch(`${url}/no-type`);
  t.equal(noType.headers.get('content-type'), 'text/plain; charset=utf-8', 'no content-type: text/plain, as HTTP APIs send');

  const structured = await raw(url, '/structured', ['host', '127.0.0.1']);
  t.equal(structured.status, 201);
  t.equal(structured.headers['x-answer'], '42');
  t.equal(structured.headers['content-type'], 'text/plain');
  t.equal(structured.headers['x-multi'], 'a,b', 'a comma-joined value stays one header');
  t.equal(structured.headers.vary, 'accept, origin');
  t.same(structured.headers['set-cookie'], ['a=1; Path=/', 'b=2; HttpOnly'], 'one set-cookie per cookie');
  t.equal(structured.body, 'created');

  const b64 = await fetch(`${url}/base64`);
  t.same([...new Uint8Array(await b64.arrayBuffer())], [0, 1, 2, 255], 'isBase64Encoded: the body is decoded');
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

t.test("a thrown error or an invalid result is API Gateway's 500", async (t) => {
  const { url, logs, spans } = await startApp(t, { fn: { handler } });
  const res = await fetch(`${url}/throw`);
  t.equal(res.status, 500);
  t.equal(res.headers.get('content-type'), 'application/json');
  const requestId = res.headers.get('apigw-requestid');
  t.equal(await res.text(), '{"message":"Internal Server Error"}', "API Gateway's body: no message or stack reaches the caller");
  const failed = logs().find((l) => l.msg === 'request failed');
  t.ok(failed, 'the error is logged for the operator');
  t.match(JSON.stringify(failed), /hunter2/, 'with its message');
  t.equal(failed?.request_id, requestId, 'with the request id the caller got');
  const span = spans().find((s) => s.attributes['http.response.status_code'] === 500);
  t.equal(span?.attributes['error.type'], 'Error', 'the span carries the exception class');

  const bad = await fetch(`${url}/bad-status`);
  t.equal(bad.status, 500, 'an invalid statusCode from the handler is a 500');
  t.equal(await bad.text(), '{"message":"Internal Server Error"}');
});

t.test("security headers: JSON keeps the platform's, other content is not broken, the handler's own win", async (t) => {
  const { url } = await startApp(t, { fn: { handler } });
  const json = await fetch(`${url}/plain`);
  t.equal(json.headers.get('content-security-policy'), "default-src 'none';frame-ancestors 'none'");
  t.equal(json.headers.get('x-frame-options'), 'DENY');
  const jsonStructured = await fetch(`${url}/json-structured`);
  t.equal(jsonStructured.headers.get('content-security-policy'), "default-src 'none';frame-ancestors 'none'");

  const html = await fetch(`${url}/html`);
  t.equal(html.headers.get('content-security-policy'), null, 'an HTML page may load its scripts and styles');
  t.equal(html.headers.get('x-frame-options'), null);
  t.equal(html.headers.get('cross-origin-resource-policy'), null);
  t.equal(html.headers.get('x-content-type-options'), 'nosniff', 'headers that break nothing stay');

  const own = await fetch(`${url}/html-own-policy`);
  t.equal(own.headers.get('content-security-policy'), "default-src 'self'");
  t.equal(own.headers.get('x-frame-options'), 'SAMEORIGIN');
});

t.test("the request body limit is Lambda's 6 MB, unless BODY_LIMIT_BYTES is set", async (t) => {
  const { url } = await startApp(t, { fn: { handler } });
  calls.length = 0;
  const big = randomBytes(5 * 1024 * 1024);
  const ok = await fetch(`${url}/big`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: big });
  t.equal(ok.status, 204, '5 MiB reaches the handler (the routes take 1 MiB)');
  t.equal(Buffer.from(calls[0]!.event.body!, 'base64').length, big.length);
  const over = await fetch(`${url}/big`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: randomBytes(LAMBDA_PAYLOAD_LIMIT_BYTES + 1) });
  t.equal(over.status, 413);

  const small = await startApp(t, { fn: { handler }, env: { BODY_LIMIT_BYTES: '1000' } });
  const refused = await fetch(`${small.url}/big`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(1001) });
  t.equal(refused.status, 413, 'an explicit BODY_LIMIT_BYTES applies to the handler too');
});

t.test('callback-style handlers and the legacy context methods', async (t) => {
  const callbackHandler = (_event: unknown, _context: Context, callback: Callback) => {
    setImmediate(() => callback(null, { statusCode: 202, body: 'later' }));
  };
  const { url } = await startApp(t, {
    fn: {
      handler: (event, context, callback) => {
        if (event.rawPath === '/callback') return callbackHandler(event, context, callback);
        if (event.rawPath === '/callback-error') return callback(new Error('no'));
        if (event.rawPath === '/succeed') return context.succeed({ statusCode: 203, body: 's' });
        return undefined;
      },
    },
  });
  const signal = () => AbortSignal.timeout(5_000);
  const later = await fetch(`${url}/callback`, { signal: signal() });
  t.equal(later.status, 202);
  t.equal(await later.text(), 'later');
  t.equal((await fetch(`${url}/callback-error`, { signal: signal() })).status, 500);
  t.equal((await fetch(`${url}/succeed`, { signal: signal() })).status, 203);

  const sync = await startApp(t, { fn: { handler: (event: { rawPath: string }) => ({ statusCode: 200, body: `sync ${event.rawPath}` }) } });
  t.equal(await (await fetch(`${sync.url}/x`, { signal: signal() })).text(), 'sync /x', "a synchronous handler's return value is the result");
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
  await raw(url, '/dup', ['host', '127.0.0.1', 'x-multi', 'a', 'x-multi', 'b']);
  t.equal(calls[0]!.event.headers['x-multi'], 'a,b');
});

t.test("under app.inject() (an author's tests), the event has the request's headers and a JSON body as text", async (t) => {
  const fn = await build({ handler });
  t.teardown(() => fn.close());
  calls.length = 0;
  await fn.app.inject({ method: 'POST', url: '/x', payload: { text: 'a b' }, headers: { 'x-multi': ['a', 'b'], cookie: 'c1=v1; c2=v2' } });
  const event = calls[0]!.event;
  t.equal(event.headers['content-type'], 'application/json');
  t.equal(event.headers['x-multi'], 'a,b');
  t.same(event.cookies, ['c1=v1', 'c2=v2']);
  t.equal(event.body, '{"text":"a b"}');
  t.equal(event.isBase64Encoded, false);
});

t.test('helpers', async (t) => {
  t.equal(gatewayTime(new Date(Date.UTC(2020, 2, 12, 19, 3, 58))), '12/Mar/2020:19:03:58 +0000');
  t.equal(memoryLimitInMB(() => '536870912\n'), '512', 'cgroup v2 limit in bytes');
  t.equal(memoryLimitInMB(() => 'max'), '0', 'unlimited');
  t.equal(memoryLimitInMB(() => { throw new Error('ENOENT'); }), '0', 'no cgroup file');
  t.equal(
    functionArn('orders', 'eu-west-1', ['plain-name', 'arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:app-AbCdEf']),
    'arn:aws-cn:lambda:eu-west-1:123456789012:function:orders',
    'partition and account from the first secret ARN',
  );
  t.equal(functionArn('orders', undefined), 'arn:aws:lambda:us-east-1:000000000000:function:orders');
});

// A handler typed with @types/aws-lambda's three-parameter signature is a valid handler (checked by tsc).
const typed: import('aws-lambda').APIGatewayProxyHandlerV2 = async (event, _context, _callback) => ({ statusCode: 200, body: event.rawPath });
const accepted: FunctionModule = { handler: typed };
void accepted;
