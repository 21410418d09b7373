/**
 * Runs an AWS Lambda handler written for API Gateway HTTP API (payload format 2.0) unchanged: each request becomes
 * the event API Gateway would send, and the handler's result becomes the response API Gateway would return.
 */
import { context as otelContext, trace } from '@opentelemetry/api';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { readFileSync } from 'node:fs';
import type { SecretStore } from './secrets.js';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  FunctionContext,
  LambdaHandler,
} from './types.js';

export interface LambdaOptions {
  handler: LambdaHandler;
  secrets: SecretStore;
  functionName: string;
  functionVersion: string;
  requestTimeoutSeconds: number;
}

/** The route every request reaches when a module exports only `handler`: API Gateway's `$default`. */
export const LAMBDA_ROUTE = '/*';
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'] as const;

/** Content types API Gateway passes as text; every other body arrives base64-encoded. */
const TEXT_TYPE = /^(text\/|application\/(json|javascript|xml|x-www-form-urlencoded|graphql)|[^;]*\+(json|xml))/i;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** API Gateway's requestContext.time format: 12/Mar/2020:19:03:58 +0000 */
export function gatewayTime(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${p(date.getUTCHours())}:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())} +0000`;
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

export function toEvent(request: FastifyRequest, body: Buffer | undefined): APIGatewayProxyEventV2 {
  const url = request.url;
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQueryString = q === -1 ? '' : url.slice(q + 1);

  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  // Names arrive lower-cased; repeated headers are joined with commas, as API Gateway does.
  for (const [name, values] of Object.entries(request.raw.headersDistinct)) {
    if (values === undefined) continue;
    if (name === 'cookie') {
      cookies = values.join('; ').split(/;\s*/).filter(Boolean);
      continue;
    }
    headers[name] = values.join(',');
  }

  let queryStringParameters: Record<string, string> | undefined;
  if (rawQueryString) {
    queryStringParameters = {};
    for (const [key, value] of new URLSearchParams(rawQueryString)) {
      // Repeated keys are joined with commas, as API Gateway does.
      queryStringParameters[key] = key in queryStringParameters ? `${queryStringParameters[key]},${value}` : value;
    }
  }

  const now = new Date();
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'knative',
      domainName: request.host,
      domainPrefix: request.host.split('.', 1)[0] ?? '',
      http: {
        method: request.method,
        path: rawPath,
        protocol: `HTTP/${request.raw.httpVersion}`,
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
    const type = headers['content-type'] ?? '';
    if (TEXT_TYPE.test(type)) {
      event.body = body.toString('utf8');
    } else {
      event.body = body.toString('base64');
      event.isBase64Encoded = true;
    }
  }
  return event;
}

function isStructured(result: unknown): result is APIGatewayProxyStructuredResultV2 {
  return typeof result === 'object' && result !== null && 'statusCode' in result;
}

/** Sends a handler result the way API Gateway HTTP API (format 2.0) turns it into a response. */
export function sendResult(reply: FastifyReply, result: unknown): FastifyReply {
  if (!isStructured(result)) {
    // No statusCode: 200, JSON, the value itself as the body.
    return reply
      .code(200)
      .header('content-type', 'application/json')
      .send(result === undefined ? '' : JSON.stringify(result));
  }
  const status = result.statusCode ?? 200;
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new Error(`the handler returned an invalid statusCode (${String(status)})`);
  }
  reply.code(status);
  let hasType = false;
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    if (name.toLowerCase() === 'content-type') hasType = true;
    reply.header(name, String(value));
  }
  if (result.cookies?.length) reply.header('set-cookie', result.cookies);
  if (!hasType) reply.header('content-type', 'application/json');
  const body = result.body ?? '';
  return reply.send(result.isBase64Encoded ? Buffer.from(body, 'base64') : body);
}

/** Mounts a Lambda handler on every path and method not taken by other routes. */
export const lambdaPlugin: FastifyPluginAsync<LambdaOptions> = async (app, options) => {
  const { handler, secrets } = options;
  const memory = memoryLimitInMB();
  const timeoutMs = options.requestTimeoutSeconds * 1000;

  // Every content type arrives as raw bytes, so binary bodies round-trip through base64 exactly.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.route({
    method: [...METHODS],
    url: LAMBDA_ROUTE,
    handler: async (request, reply) => {
      const started = Date.now();
      const span = request.span ?? trace.getActiveSpan();
      const context: FunctionContext = Object.defineProperties(
        {
          functionName: options.functionName,
          functionVersion: options.functionVersion,
          awsRequestId: request.id,
          memoryLimitInMB: memory,
          callbackWaitsForEmptyEventLoop: true,
          logger: request.log,
          traceId: span?.spanContext().traceId ?? '',
          getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
        },
        // Not enumerable: logging or serialising the context never prints secret values.
        { secrets: { get: () => secrets.snapshot(), enumerable: false } },
      ) as FunctionContext;
      const event = toEvent(request, request.body as Buffer | undefined);
      const ctx = request.otelContext ?? otelContext.active();
      const result = await otelContext.with(ctx, () => handler(event, context));
      return sendResult(reply, result);
    },
  });
};
