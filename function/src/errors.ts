/** The JSON error body of every failure the function answers (4xx and 5xx): its type and its JSON schema. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  requestId: string;
}

/** The error body's JSON schema, for a route's `response` (e.g. `{ '4xx': errorBodySchema, 503: errorBodySchema }`). */
export const errorBodySchema = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    message: { type: 'string' },
    requestId: { type: 'string' },
  },
  required: ['statusCode', 'error', 'message'],
  additionalProperties: false,
} as const;
