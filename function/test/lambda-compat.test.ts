/**
 * Lambda handlers built on published libraries (function/test/fixtures/lambda-compat.ts: the Lambda console's
 * default function, handlers typed with @types/aws-lambda, hono's aws-lambda adapter, middy with its HTTP
 * middlewares, express through serverless-http), each unchanged, bundled as the function the way
 * scripts/build.mjs bundles a FUNCTION, run as its own process, and driven over HTTP. Every response
 * is compared with what API Gateway HTTP API (payload format 2.0) documents for the same handler result.
 */
import t, { type Test } from 'tap';
import type { CompatHandler } from './fixtures/lambda-compat.js';
import { fixtureServer } from './helpers/bundle.js';
import { baseEnv, startServer, type RunningServer } from './helpers/process.js';

const GATEWAY_500 = '{"message":"Internal Server Error"}';
const FORM = 'a=1&b=%C3%A9&b=2';

/** The server bundle with the fixture module as the function (built as scripts/build.mjs builds FUNCTION). */
const script = await fixtureServer('lambda-compat');

async function serve(t: Test, name: CompatHandler): Promise<RunningServer> {
  const server = await startServer(
    baseEnv({ COMPAT_HANDLER: name, K_SERVICE: 'compat', K_REVISION: 'compat-00001', AWS_REGION: 'eu-west-1', REQUEST_TIMEOUT_SECONDS: '60' }),
    20_000,
    { script },
  );
  t.teardown(() => server.stop());
  return server;
}

const form = (url: string) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: FORM, signal: AbortSignal.timeout(10_000) });
const get = (url: string, init: RequestInit = {}) => fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });

t.test("the Lambda console's default Node.js function", async (t) => {
  const { url } = await serve(t, 'console-default');
  const res = await get(url);
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8', 'no content-type given: HTTP APIs send text/plain; charset=utf-8');
  t.equal(await res.text(), '"Hello from Lambda!"', 'the body string as returned (here a JSON string)');
});

t.test('a plain handler typed APIGatewayProxyHandlerV2 (event, context, callback)', async (t) => {
  const { url } = await serve(t, 'plain');

  const str = await get(`${url}/string`);
  t.equal(str.status, 200);
  t.equal(str.headers.get('content-type'), 'application/json', 'a result without statusCode: 200, application/json');
  t.equal(await str.text(), 'Hello from Lambda!', 'a string result is the body, unquoted');

  const obj = await get(`${url}/some/where?x=1&x=2`);
  t.equal(obj.status, 200);
  t.equal(obj.headers.get('content-type'), 'application/json');
  t.same(await obj.json(), { message: 'no statusCode', path: '/some/where', query: { x: '1,2' } }, 'the object, as JSON');

  const ctx = (await (await get(`${url}/context`)).json()) as Record<string, unknown>;
  t.equal(ctx.functionName, 'compat');
  t.equal(ctx.invokedFunctionArn, 'arn:aws:lambda:eu-west-1:000000000000:function:compat');
  t.equal(ctx.logGroupName, '/aws/lambda/compat');
  t.match(ctx.logStreamName, /^\d{4}\/\d{2}\/\d{2}\/\[compat-00001\]\S+$/);
  t.match(ctx.awsRequestId, /^[0-9a-f-]{36}$/);
  t.match(ctx.memoryLimitInMB, /^\d+$/);
  t.ok((ctx.remaining as number) > 50_000 && (ctx.remaining as number) <= 60_000, 'remaining time from REQUEST_TIMEOUT_SECONDS');

  const port = new URL(url).port;
  const evRes = await get(`${url}/event/caf%C3%A9?b=x%20y&b=2&constructor=1`, {
    headers: { cookie: 'c1=v1; c2=v2', 'user-agent': 'compat/1.0', 'x-forwarded-host': 'evil.example', 'X-Custom': 'Yes' },
  });
  t.equal(evRes.headers.get('apigw-requestid')?.length, 36, 'apigw-requestid, as API Gateway sends');
  const event = (await evRes.json()) as Record<string, any>;
  t.equal(event.version, '2.0');
  t.equal(event.routeKey, '$default');
  t.equal(event.rawPath, '/event/café', 'rawPath percent-decoded, as HTTP APIs send it');
  t.equal(event.rawQueryString, 'b=x%20y&b=2&constructor=1', 'rawQueryString as sent');
  t.same(event.queryStringParameters, { b: 'x y,2', constructor: '1' }, 'decoded, duplicates comma-joined');
  t.same(event.cookies, ['c1=v1', 'c2=v2']);
  t.equal(event.headers.cookie, undefined);
  t.equal(event.headers['x-custom'], 'Yes');
  t.equal(event.headers.host, `127.0.0.1:${port}`);
  t.equal(event.isBase64Encoded, false);
  t.equal(event.body, undefined, 'no body: no body field');
  t.equal(event.requestContext.domainName, '127.0.0.1', 'the Host name, never X-Forwarded-Host');
  t.equal(event.requestContext.domainPrefix, '127');
  t.equal(event.requestContext.stage, '$default');
  t.equal(event.requestContext.accountId, '000000000000');
  t.same(event.requestContext.http, { method: 'GET', path: '/event/café', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'compat/1.0' });
  t.equal(event.requestContext.requestId, evRes.headers.get('apigw-requestid'));

  const posted = (await (await form(`${url}/event`)).json()) as Record<string, any>;
  t.equal(posted.isBase64Encoded, true, 'a form post arrives base64-encoded, as HTTP APIs encode it');
  t.equal(Buffer.from(posted.body, 'base64').toString(), FORM);

  const page = await get(`${url}/page`);
  t.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  t.equal(page.headers.get('content-security-policy'), null, "the JSON API's CSP does not block the page's script");
  t.equal(page.headers.get('x-frame-options'), null);

  const multi = await get(`${url}/multi`);
  t.equal(multi.headers.get('cache-control'), 'no-cache, no-store');
  t.equal(multi.headers.get('x-list'), 'a,b');
  t.same(multi.headers.getSetCookie(), ['s=1; Secure', 't=2'], 'cookies: one set-cookie each');
  t.equal(multi.headers.get('content-type'), 'text/plain; charset=utf-8');

  const thrown = await get(`${url}/throw`);
  t.equal(thrown.status, 500);
  t.equal(thrown.headers.get('content-type'), 'application/json');
  t.equal(await thrown.text(), GATEWAY_500, "a handler that throws: API Gateway's 500 body");
});

t.test('a callback-style handler (event, context, callback)', async (t) => {
  const { url } = await serve(t, 'callback');
  const res = await get(`${url}/later`);
  t.equal(res.status, 200);
  t.equal(await res.text(), 'callback /later');
});

t.test("hono's aws-lambda adapter", async (t) => {
  const { url } = await serve(t, 'hono');
  const hello = await get(`${url}/hello/world?q=1`);
  t.equal(hello.status, 200);
  t.match(hello.headers.get('content-type'), /^application\/json/);
  const body = (await hello.json()) as Record<string, string>;
  t.equal(body.hello, 'world');
  t.equal(body.q, '1');
  t.equal(new URL(body.url).host, '127.0.0.1', 'hono builds the URL from requestContext.domainName');

  t.same(await (await form(`${url}/form`)).json(), { a: '1', b: '2' }, 'a base64 form body decoded by the adapter (parseBody keeps the last b)');
  const json = await get(`${url}/json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":1}' });
  t.equal(json.status, 201);
  t.same(await json.json(), { got: { n: 1 } });

  const cookies = await get(`${url}/cookies`);
  t.same(cookies.headers.getSetCookie(), ['a=1; Path=/', 'b=2; Path=/; HttpOnly'], 'the cookies field: one set-cookie each');
  t.equal(await cookies.text(), 'two cookies');

  const page = await get(`${url}/page`);
  t.match(page.headers.get('content-type'), /^text\/html/);
  t.equal(page.headers.get('content-security-policy'), null);
  t.equal(await page.text(), '<h1>hono</h1>');

  const png = await get(`${url}/png`);
  t.equal(png.headers.get('content-type'), 'image/png');
  t.same([...new Uint8Array(await png.arrayBuffer())], [0x89, 0x50, 0x4e, 0x47, 0, 255], 'isBase64Encoded result decoded to bytes');

  const boom = await get(`${url}/boom`);
  t.equal(boom.status, 500, "hono's own error response passes through");
  t.equal(await boom.text(), 'Internal Server Error');
});

t.test('middy with http-json-body-parser, http-urlencode-body-parser and http-error-handler', async (t) => {
  const { url } = await serve(t, 'middy');
  const created = await get(`${url}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sku":"A-1"}' });
  t.equal(created.status, 201);
  t.same(await created.json(), { sku: 'A-1' });

  const invalid = await get(`${url}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  t.equal(invalid.status, 422, "http-error-handler's status");
  t.equal(await invalid.text(), 'sku is required');
  t.equal(invalid.headers.get('content-type'), 'text/plain');

  const malformed = await get(`${url}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
  t.equal(malformed.status, 422);

  const posted = await form(`${url}/form`);
  t.equal(posted.status, 200);
  t.equal(posted.headers.get('content-type'), 'application/json');
  t.same(await posted.json(), { parsed: { a: '1', b: ['é', '2'] } }, 'the base64 form body decoded by the parser');

  const boom = await get(`${url}/boom`);
  t.equal(boom.status, 500, 'an unexpected error: http-error-handler answers 500 itself');
  t.equal(await boom.text(), '');
});

t.test('express through serverless-http', async (t) => {
  const { url } = await serve(t, 'express');
  const item = await get(`${url}/items/42?q=z`);
  t.equal(item.status, 200);
  t.equal(item.headers.get('content-type'), 'application/json; charset=utf-8');
  t.same(await item.json(), { id: '42', q: 'z', ip: '127.0.0.1', path: '/items/42' });
  t.same(item.headers.getSetCookie(), ['seen=42; Path=/', 'theme=dark; Path=/; HttpOnly']);

  const posted = await form(`${url}/form`);
  t.equal(posted.status, 201);
  t.same(await posted.json(), { form: { a: '1', b: ['é', '2'] } });

  const page = await get(`${url}/page`);
  t.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  t.equal(page.headers.get('content-security-policy'), null);
  t.equal(await page.text(), '<p>express</p>');

  const png = await get(`${url}/png`);
  t.equal(png.headers.get('content-type'), 'image/png');
  t.same([...new Uint8Array(await png.arrayBuffer())], [0x89, 0x50, 0x4e, 0x47, 0, 255]);

  const missing = await get(`${url}/nowhere`);
  t.equal(missing.status, 404, "express's own 404 passes through");
});
