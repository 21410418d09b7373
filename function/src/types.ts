/**
 * The types a function author uses. A function module (function/src/function.ts) exports either
 * - `handler`: an AWS Lambda handler for API Gateway HTTP API (payload format 2.0), run unchanged; or
 * - `routes`: a Fastify plugin declaring routes directly.
 * If it exports both, `routes` are matched first and `handler` serves every other path.
 */
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';

/** API Gateway HTTP API event, payload format 2.0. */
export interface APIGatewayProxyEventV2 {
  version: '2.0';
  routeKey: string;
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  pathParameters?: Record<string, string>;
  stageVariables?: Record<string, string>;
  requestContext: {
    accountId: string;
    apiId: string;
    domainName: string;
    domainPrefix: string;
    http: {
      method: string;
      path: string;
      protocol: string;
      sourceIp: string;
      userAgent: string;
    };
    requestId: string;
    routeKey: string;
    stage: string;
    time: string;
    timeEpoch: number;
  };
  body?: string;
  isBase64Encoded: boolean;
}

/** The structured result of an HTTP API handler. Any other value is sent as a 200 JSON body. */
export interface APIGatewayProxyStructuredResultV2 {
  statusCode?: number;
  headers?: Record<string, string | number | boolean>;
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
}

export type APIGatewayProxyResultV2<T = unknown> = APIGatewayProxyStructuredResultV2 | string | T;

/** The Lambda context fields that make sense on Knative, plus what this platform adds. */
export interface FunctionContext {
  /** K_SERVICE */
  readonly functionName: string;
  /** K_REVISION */
  readonly functionVersion: string;
  readonly awsRequestId: string;
  /** The container's memory limit (cgroup), in MiB, as a string like Lambda's. */
  readonly memoryLimitInMB: string;
  /** Milliseconds left before the platform's request timeout (REQUEST_TIMEOUT_SECONDS). */
  getRemainingTimeInMillis(): number;
  callbackWaitsForEmptyEventLoop: boolean;
  /** Secrets read from Secrets Manager at start-up (and refreshed); not enumerable, never logged. */
  readonly secrets: Readonly<Record<string, string>>;
  /** A request-scoped logger whose lines carry request_id, trace_id and span_id. */
  readonly logger: FastifyBaseLogger;
  /** The W3C trace id of this request's span. */
  readonly traceId: string;
}

export type LambdaHandler<TResult = unknown> = (
  event: APIGatewayProxyEventV2,
  context: FunctionContext,
) => Promise<APIGatewayProxyResultV2<TResult>>;

export interface FunctionModule {
  handler?: LambdaHandler;
  routes?: FastifyPluginAsync;
}
