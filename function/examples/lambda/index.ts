/**
 * An AWS Lambda handler for API Gateway HTTP API (payload format 2.0), as it would run on Lambda: a function of its
 * own, built with `make build FUNCTION=function/examples/lambda`. Your own folder exporting `handler` works the same.
 *
 * The types are @types/aws-lambda's: `import type { APIGatewayProxyHandlerV2 } from 'aws-lambda'` works as on
 * Lambda. FunctionContext is Lambda's Context plus this platform's `logger` (lines carry trace ids), `secrets` and
 * `traceId`; a handler typed with Lambda's Context alone runs as well.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, FunctionContext } from 'knative-fn';

export const handler = async (event: APIGatewayProxyEventV2, context: FunctionContext): Promise<APIGatewayProxyResultV2<object>> => {
  context.logger.info({ path: event.rawPath }, 'lambda-style handler invoked');
  if (event.rawPath === '/echo') {
    // Returns the body as received: binary bodies arrive base64-encoded and go back the same way.
    return {
      statusCode: 200,
      headers: { 'content-type': event.headers['content-type'] ?? 'application/octet-stream' },
      body: event.body ?? '',
      isBase64Encoded: event.isBase64Encoded,
    };
  }
  // A value without statusCode: API Gateway sends it as a 200 JSON body.
  return {
    path: event.rawPath,
    method: event.requestContext.http.method,
    query: { ...event.queryStringParameters },
    function: context.functionName,
    arn: context.invokedFunctionArn,
    remainingMs: context.getRemainingTimeInMillis(),
  };
};
