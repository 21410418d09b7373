/**
 * The Lambda types of the runtime; authors import them from the public module (api.ts, `'knative-fn'`).
 *
 * The Lambda types are @types/aws-lambda's (import them from 'aws-lambda', as on Lambda, or from here): a handler
 * typed `APIGatewayProxyHandlerV2` or `Handler` type-checks as it does in a Lambda project.
 */
import type { Callback, Context } from 'aws-lambda';
import type { FastifyBaseLogger } from 'fastify';

export type {
  APIGatewayProxyEventV2,
  APIGatewayProxyHandlerV2,
  APIGatewayProxyResultV2,
  APIGatewayProxyStructuredResultV2,
  Callback,
  Context,
  Handler,
} from 'aws-lambda';

/**
 * Lambda's context (every documented field filled, see function/src/lambda.ts), plus what this platform adds.
 * - functionName: K_SERVICE; functionVersion: K_REVISION.
 * - invokedFunctionArn: arn:<partition>:lambda:<AWS_REGION>:<account>:function:<K_SERVICE>, the account and partition
 *   taken from the first Secrets Manager ARN in SECRETS (else 000000000000 and aws; the region else us-east-1).
 * - memoryLimitInMB: the container's cgroup memory limit in MiB ("0" when unlimited).
 * - logGroupName: /aws/lambda/<K_SERVICE>; logStreamName: <yyyy>/<mm>/<dd>/[<K_REVISION>]<pod name>.
 * - getRemainingTimeInMillis(): from REQUEST_TIMEOUT_SECONDS (the revision's timeoutSeconds).
 */
export interface FunctionContext extends Context {
  /** Secrets read from Secrets Manager at start-up (and refreshed); not enumerable, never logged. */
  readonly secrets: Readonly<Record<string, string>>;
  /** A request-scoped logger whose lines carry request_id, trace_id and span_id. */
  readonly logger: FastifyBaseLogger;
  /** The W3C trace id of this request's span. */
  readonly traceId: string;
}

/**
 * What the platform calls: Lambda's handler signature. As on Lambda, the event's declared type is the handler's own
 * business (hono's and middy's handlers declare unions of event sources), so any event type is accepted. Async
 * handlers return (a promise of) the result; handlers that take a third parameter may answer through the callback
 * instead, as on Lambda's Node.js runtimes.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LambdaHandler = (event: any, context: FunctionContext, callback: Callback<unknown>) => unknown;
