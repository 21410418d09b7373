/**
 * Runs an AWS Lambda handler written for API Gateway HTTP API (payload format 2.0) unchanged: each request becomes
 * the event API Gateway would send, and the handler's result becomes the response API Gateway would return.
 *
 * The behaviour followed is AWS's documentation of HTTP API Lambda proxy integrations ("Working with AWS Lambda proxy
 * integrations for HTTP APIs", payload format 2.0, request and response formats), quoted where it applies below.
 * Where this platform differs, README.md ("Write your function") says so.
 */
import { context as otelContext, trace } from '@opentelemetry/api';
import type { FastifyBaseLogger, FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { SecretStore } from './secrets.js';
import type { APIGatewayProxyEventV2, FunctionContext, LambdaHandler } from './types.js';

export interface LambdaOptions {
  handler: LambdaHandler;
  secrets: SecretStore;
  functionName: string;
  functionVersion: string;
  requestTimeoutSeconds: number;
  /** AWS_REGION, for invokedFunctionArn. */
  region?: string | undefined;
  /** SECRETS: the first ARN among them gives invokedFunctionArn's partition and account. */
  secretIds?: readonly string[];
  /** The request body limit; Lambda's 6 MB (LAMBDA_PAYLOAD_LIMIT_BYTES) when not set. */
  bodyLimitBytes?: number | undefined;
}

/** The route every request reaches when a module exports only `handler`: API Gateway's `$default`. */
export const LAMBDA_ROUTE = '/*';
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'] as const;

/**
 * Lambda's synchronous invocation payload quota, 6 MB: its Invoke API rejects a request "must be smaller than
 * 6291456 bytes". On Lambda it bounds the whole event (base64 and headers included); here it bounds the body.
 */
export const LAMBDA_PAYLOAD_LIMIT_BYTES = 6_291_456;

/**
 * Request bodies API Gateway passes as text: text/* and application/json. Every other body (no content type,
 * application/x-www-form-urlencoded and multipart/form-data included) arrives base64-encoded with
 * isBase64Encoded: true, as HTTP APIs decide by the request's content type.
 */
const TEXT_TYPE = /^\s*(text\/[^\s;]+|application\/json)\s*(;|$)/i;

/** JSON responses keep every security header; others drop those that would stop a page or asset from working. */
const JSON_TYPE = /^\s*application\/([^\s;]+\+)?json\s*(;|$)/i;
const CONTENT_RESTRICTING_HEADERS = ['content-security-policy', 'x-frame-options', 'cross-origin-resource-policy', 'cross-origin-opener-policy'];

/** API Gateway's answer when the integration fails (the handler throws, or returns an invalid response). */
export const GATEWAY_ERROR_BODY = '{"message":"Internal Server Error"}';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number) => String(n).padStart(2, '0');

/** API Gateway's requestContext.time format: 12/Mar/2020:19:03:58 +0000 */
export function gatewayTime(date: Date): string {
  return `${p2(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${p2(date.getUTCHours())}:${p2(date.getUTCMinutes())}:${p2(date.getUTCSeconds())} +0000`;
}

/** The container's memory limit in MiB from cgroup v2 (or v1); "0" when unlimited or unknown. */
export function memoryLimitInMB(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): string {
  for (const path of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const raw = read(path).trim();
      if (raw === 'max') return '0';
      const bytes = Number(raw);
      // cgroup v1 reports "unlimited" as a huge page-aligned number.
      if (Number.isFinite(bytes) && bytes > 0 && bytes < 2 ** 60) return String(Math.floor(bytes / 1_048_576));
    } catch {
      // not this cgroup version
    }
  }
  return '0';
}

const ARN = /^arn:(aws[a-z-]*):[a-z0-9-]+:[a-z0-9-]*:(\d{12}):/;

/**
 * An ARN shaped like Lambda's invokedFunctionArn: arn:<partition>:lambda:<region>:<account>:function:<name>.
 * The partition and account come from the first ARN in `secretIds` (the function's own account), else aws and
 * 000000000000; the region from AWS_REGION, else us-east-1.
 */
export function functionArn(functionName: string, region: string | undefined, secretIds: readonly string[] = []): string {
  let partition = 'aws';
  let account = '000000000000';
  for (const id of secretIds) {
    const m = ARN.exec(id);
    if (m) {
      partition = m[1]!;
      account = m[2]!;
      break;
    }
  }
  return `arn:${partition}:lambda:${region ?? 'us-east-1'}:${account}:function:${functionName}`;
}

/** The Host header's name without its port: what a caller reached, never X-Forwarded-Host (a client can set it). */
export function hostName(host: string | undefined): string {
  if (!host) return '';
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return (colon === -1 ? host : host.slice(0, colon)).toLowerCase();
}

/**
 * HTTP APIs hand Lambda the path percent-decoded, in rawPath and requestContext.http.path alike. A path that is not
 * valid percent-encoding (a lone %) stays as received.
 */
export function gatewayPath(rawUrlPath: string): string {
  if (!rawUrlPath.includes('%')) return rawUrlPath;
  try {
    return decodeURIComponent(rawUrlPath);
  } catch {
    return rawUrlPath;
  }
}

export function toEvent(request: FastifyRequest, body: Buffer | undefined, accountId: string, apiId: string): APIGatewayProxyEventV2 {
  const url = request.url;
  const q = url.indexOf('?');
  const rawPath = gatewayPath(q === -1 ? url : url.slice(0, q));
  const rawQueryString = q === -1 ? '' : url.slice(q + 1);

  // Null-prototype maps: a client's header or query key such as `constructor` or `__proto__` is an ordinary key.
  const headers: Record<string, string> = Object.create(null);
  let cookies: string[] | undefined;
  // Names lower-cased; repeated headers are joined with commas ("Duplicate headers are combined with commas").
  // From rawHeaders, which Node's requests and app.inject()'s (light-my-request, no headersDistinct) both have.
  const distinct: Record<string, string[]> = Object.create(null);
  const rawHeaders = request.raw.rawHeaders;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) (distinct[rawHeaders[i]!.toLowerCase()] ??= []).push(rawHeaders[i + 1]!);
  for (const name in distinct) {
    const values = distinct[name]!;
    if (name === 'cookie') {
      // "All cookie headers in the request are combined with commas and added to the cookies field": one per cookie.
      cookies = values.join('; ').split(/;\s*/).filter(Boolean);
      continue;
    }
    headers[name] = values.join(',');
  }

  let queryStringParameters: Record<string, string> | undefined;
  if (rawQueryString) {
    const params: Record<string, string> = Object.create(null);
    for (const [key, value] of new URLSearchParams(rawQueryString)) {
      // "Duplicate query strings are combined with commas".
      const seen = params[key];
      params[key] = seen === undefined ? value : `${seen},${value}`;
    }
    queryStringParameters = params;
  }

  const domainName = hostName(request.raw.headers.host);
  const now = new Date();
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId,
      apiId,
      domainName,
      domainPrefix: domainName.split('.', 1)[0] ?? '',
      http: {
        method: request.method,
        path: rawPath,
        protocol: `HTTP/${request.raw.httpVersion}`,
        // The nearest address the platform can vouch for: the peer, or the last X-Forwarded-For hop that a trusted
        // proxy (queue-proxy, on loopback) appended itself. Entries a client wrote further left are never used.
        sourceIp: request.ip,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: request.id,
      routeKey: '$default',
      stage: '$default',
      time: gatewayTime(now),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
  if (cookies) event.cookies = cookies;
  if (queryStringParameters) event.queryStringParameters = queryStringParameters;
  if (body !== undefined && body.length > 0) {
    if (TEXT_TYPE.test(headers['content-type'] ?? '')) {
      event.body = body.toString('utf8');
    } else {
      event.body = body.toString('base64');
      event.isBase64Encoded = true;
    }
  }
  return event;
}

/** A handler result API Gateway rejects: the response is API Gateway's 500. */
export class InvalidResultError extends Error {
  override name = 'InvalidResultError';
}

/**
 * Sends a handler result the way API Gateway HTTP API (format 2.0) turns it into a response:
 * - "If your Lambda function returns valid JSON and doesn't return a statusCode, API Gateway assumes: isBase64Encoded
 *   false, statusCode 200, content-type application/json, body the function's response". A string is sent as it is
 *   (AWS's example: "Hello from Lambda!" becomes that body, unquoted); any other value as its JSON (what Lambda
 *   serialises; undefined is null).
 * - With a statusCode: headers as given (a comma-joined value stays one header), each of `cookies` a set-cookie
 *   header, the body base64-decoded when isBase64Encoded, and content-type text/plain; charset=utf-8 when the handler
 *   sets none (what HTTP APIs send).
 * - A statusCode that is not an integer from 100 to 599 is an invalid response: 500 {"message":"Internal Server Error"}.
 */
export function sendResult(reply: FastifyReply, result: unknown): FastifyReply {
  // Lambda serialises the result as JSON, so a statusCode that is undefined is no statusCode at all.
  if (typeof result !== 'object' || result === null || (result as { statusCode?: unknown }).statusCode === undefined) {
    const body = typeof result === 'string' ? result : (JSON.stringify(result ?? null) ?? 'null');
    reply.code(200).header('content-type', 'application/json');
    // Bytes: Fastify would append "; charset=utf-8" to a string's application/json.
    return reply.send(Buffer.from(body));
  }
  const structured = result as { statusCode: unknown; headers?: unknown; cookies?: unknown; body?: unknown; isBase64Encoded?: unknown };
  const status = structured.statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    throw new InvalidResultError(`the handler returned an invalid statusCode (${JSON.stringify(status)}): use an integer from 100 to 599`);
  }
  reply.code(status);
  let type: string | undefined;
  const own = new Set<string>();
  if (typeof structured.headers === 'object' && structured.headers !== null) {
    for (const [name, value] of Object.entries(structured.headers)) {
      if (value === undefined || value === null) continue;
      const text = String(value);
      const lower = name.toLowerCase();
      own.add(lower);
      if (lower === 'content-type') type = text;
      reply.header(name, text);
    }
  }
  if (Array.isArray(structured.cookies) && structured.cookies.length > 0) {
    const existing = reply.getHeader('set-cookie');
    const given = existing === undefined ? [] : Array.isArray(existing) ? existing.map(String) : [String(existing)];
    reply.header('set-cookie', [...given, ...structured.cookies.map(String)]);
  }
  if (type === undefined) {
    type = 'text/plain; charset=utf-8';
    reply.header('content-type', type);
  }
  if (!JSON_TYPE.test(type)) {
    // The platform's JSON-API policy (CSP default-src 'none', no framing, same-origin resources) would stop a page,
    // a script or an image from working: a handler's non-JSON response keeps only the headers it sets itself.
    for (const name of CONTENT_RESTRICTING_HEADERS) if (!own.has(name)) reply.removeHeader(name);
  }
  const body = structured.body;
  const text = body === undefined || body === null ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  return reply.send(Buffer.from(text, structured.isBase64Encoded === true ? 'base64' : 'utf8'));
}

/** What every invocation's context shares: fixed per process, as on Lambda per execution environment. */
interface ContextShared {
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  logGroupName: string;
  logStreamName: string;
  secrets: SecretStore;
}

const STORE = Symbol('secrets');

/**
 * Lambda's context for one invocation. A class, so that building one per request costs no more than an object
 * literal; every documented field is an own property (serialising the context shows them, as on Lambda), the
 * completion functions are bound closures (`promise.then(context.succeed)` works), and `secrets` is a getter on the
 * prototype over a symbol-keyed store: neither is enumerable, so logging or serialising the context never prints secret values.
 */
class InvocationContext implements FunctionContext {
  callbackWaitsForEmptyEventLoop = true;
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  readonly logger: FastifyBaseLogger;
  readonly traceId: string;
  readonly getRemainingTimeInMillis: () => number;
  readonly done: (error?: Error | string | null, result?: unknown) => void;
  readonly fail: (error: Error | string) => void;
  readonly succeed: (result: unknown) => void;
  readonly [STORE]: SecretStore;

  constructor(
    shared: ContextShared,
    requestId: string,
    logger: FastifyBaseLogger,
    traceId: string,
    deadline: number,
    resolve: (result: unknown) => void,
    reject: (error: Error) => void,
  ) {
    this.functionName = shared.functionName;
    this.functionVersion = shared.functionVersion;
    this.invokedFunctionArn = shared.invokedFunctionArn;
    this.memoryLimitInMB = shared.memoryLimitInMB;
    this.awsRequestId = requestId;
    this.logGroupName = shared.logGroupName;
    this.logStreamName = shared.logStreamName;
    this.logger = logger;
    this.traceId = traceId;
    this.getRemainingTimeInMillis = () => Math.max(0, deadline - Date.now());
    const fail = (error: unknown) => reject(error instanceof Error ? error : new Error(String(error)));
    // The callback's contract, and the legacy completion methods @types/aws-lambda's Context still declares.
    this.done = (error, result) => (error === undefined || error === null ? resolve(result) : fail(error));
    this.fail = fail;
    this.succeed = resolve;
    this[STORE] = shared.secrets;
  }

  get secrets(): Readonly<Record<string, string>> {
    // Loggers may read it on a copy of the context (pino's redaction does), where the store is copied along.
    return this[STORE]?.snapshot() ?? {};
  }
}

/** Calls a handler as Lambda's Node.js runtime does: its returned promise, or its callback, gives the result. */
function invoke(handler: LambdaHandler, event: APIGatewayProxyEventV2, shared: ContextShared, request: FastifyRequest, deadline: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const span = request.span ?? trace.getActiveSpan();
    const context = new InvocationContext(shared, request.id, request.log, span?.spanContext().traceId ?? '', deadline, resolve, reject);
    const returned = handler(event, context, context.done) as unknown;
    if (typeof (returned as PromiseLike<unknown> | undefined)?.then === 'function') {
      (returned as PromiseLike<unknown>).then(resolve, context.fail);
    } else if (handler.length < 3) {
      // A synchronous handler that takes no callback: its return value is the result.
      resolve(returned);
    }
    // Otherwise the handler answers through the callback (or context.done/succeed/fail).
  });
}

/** Mounts a Lambda handler on every path and method not taken by other routes. */
export const lambdaPlugin: FastifyPluginAsync<LambdaOptions> = async (app, options) => {
  const { handler, secrets, functionName, functionVersion } = options;
  const memory = memoryLimitInMB();
  const timeoutMs = options.requestTimeoutSeconds * 1000;
  const invokedFunctionArn = functionArn(functionName, options.region, options.secretIds);
  const accountId = invokedFunctionArn.split(':')[4]!;
  const logGroupName = `/aws/lambda/${functionName}`;
  // Lambda's stream name is <date>/[<version>]<execution environment id>; here the pod (one process per pod).
  const started = new Date();
  const logStreamName = `${started.getUTCFullYear()}/${p2(started.getUTCMonth() + 1)}/${p2(started.getUTCDate())}/[${functionVersion}]${hostname()}`;
  const shared: ContextShared = { functionName, functionVersion, invokedFunctionArn, memoryLimitInMB: memory, logGroupName, logStreamName, secrets };

  // Every content type arrives as raw bytes, so binary bodies round-trip through base64 exactly.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.route({
    method: [...METHODS],
    url: LAMBDA_ROUTE,
    bodyLimit: options.bodyLimitBytes ?? LAMBDA_PAYLOAD_LIMIT_BYTES,
    // A handler that throws, or returns what API Gateway cannot use, gets API Gateway's own 500 body. Errors before
    // the handler runs (oversize or unreadable body) keep the platform's 4xx bodies.
    errorHandler: (error: FastifyError, request, reply) => {
      if (error.statusCode !== undefined && error.statusCode < 500) throw error;
      request.log.error({ err: error }, 'request failed');
      return reply.code(500).header('apigw-requestid', request.id).header('content-type', 'application/json').send(Buffer.from(GATEWAY_ERROR_BODY));
    },
    handler: async (request, reply) => {
      const deadline = Date.now() + timeoutMs;
      const event = toEvent(request, request.body as Buffer | undefined, accountId, functionName);
      const ctx = request.otelContext ?? otelContext.active();
      const result = await otelContext.with(ctx, () => invoke(handler, event, shared, request, deadline));
      reply.header('apigw-requestid', request.id);
      return sendResult(reply, result);
    },
  });
};
