/**
 * THE FUNCTION. Replace this module to ship your own: export `routes` (a Fastify plugin, as here) or `handler`
 * (an AWS Lambda handler for API Gateway HTTP API payload 2.0; see function/examples/lambda.ts). Everything else
 * (secrets, metrics, traces, health, drain, hardening) is the platform's.
 *
 * The example: a greeting, and HMAC-SHA256 signing and verification of JSON documents keyed by the SIGNING_KEY
 * secret from AWS Secrets Manager.
 */
import type { FastifyPluginAsync } from 'fastify';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { rawJsonBody } from './plugins/json-body.js';
import { errorBodySchema } from './plugins/security.js';

export const SIGNING_KEY = 'SIGNING_KEY';

const document = {
  description: 'A JSON object; its exact bytes (not a re-serialisation) are what is signed.',
  type: 'object',
} as const;

function unavailable() {
  return {
    statusCode: 503,
    error: 'Service Unavailable',
    message: `${SIGNING_KEY} is not configured: add a secret holding {"${SIGNING_KEY}": "..."} to SECRETS`,
  };
}

export const routes: FastifyPluginAsync = async (app) => {
  app.get(
    '/',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { name: { type: 'string', minLength: 1, maxLength: 64 } },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              message: { type: 'string' },
              function: { type: 'string' },
              revision: { type: 'string' },
              firstRequest: { type: 'boolean', description: 'true when this request started the process (a cold start)' },
            },
            required: ['message', 'function', 'revision', 'firstRequest'],
            additionalProperties: false,
          },
        },
      },
    },
    async (request) => {
      const { name } = request.query as { name?: string };
      return {
        message: `Hello, ${name ?? 'world'}!`,
        function: app.knative.service,
        revision: app.knative.revision,
        firstRequest: request.firstRequest,
      };
    },
  );

  // Signing needs the body's exact bytes: this context parses JSON with a parser that keeps them.
  await app.register(async (signing) => {
    await signing.register(rawJsonBody);

    const hmac = (key: string, body: Buffer) => createHmac('sha256', key).update(body).digest();

    signing.post(
      '/sign',
      {
        schema: {
          body: document,
          response: {
            200: {
              type: 'object',
              properties: {
                algorithm: { type: 'string', enum: ['HMAC-SHA256'] },
                signature: { type: 'string', description: 'hex-encoded HMAC-SHA256 of the exact request body bytes' },
                bytes: { type: 'integer' },
              },
              required: ['algorithm', 'signature', 'bytes'],
              additionalProperties: false,
            },
            '4xx': errorBodySchema,
            503: errorBodySchema,
          },
        },
      },
      async (request, reply) => {
        const key = app.secrets.get(SIGNING_KEY);
        if (key === undefined) return reply.code(503).send({ ...unavailable(), requestId: request.id });
        const body = request.rawBody ?? Buffer.alloc(0);
        return { algorithm: 'HMAC-SHA256', signature: hmac(key, body).toString('hex'), bytes: body.length };
      },
    );

    signing.post(
      '/verify',
      {
        schema: {
          headers: {
            type: 'object',
            properties: {
              'x-signature': { type: 'string', pattern: '^[0-9a-fA-F]{64}$', description: 'hex HMAC-SHA256 from POST /sign' },
            },
            required: ['x-signature'],
          },
          body: document,
          response: {
            200: {
              type: 'object',
              properties: { valid: { type: 'boolean', enum: [true] } },
              required: ['valid'],
              additionalProperties: false,
            },
            '4xx': errorBodySchema,
            503: errorBodySchema,
          },
        },
      },
      async (request, reply) => {
        const key = app.secrets.get(SIGNING_KEY);
        if (key === undefined) return reply.code(503).send({ ...unavailable(), requestId: request.id });
        const given = Buffer.from(request.headers['x-signature'] as string, 'hex');
        const expected = hmac(key, request.rawBody ?? Buffer.alloc(0));
        // Both are 32 bytes (the schema fixes the length), so the comparison is constant-time.
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
          return reply.code(401).send({
            statusCode: 401,
            error: 'Unauthorized',
            message: 'the signature does not match this body',
            requestId: request.id,
          });
        }
        return { valid: true };
      },
    );
  });
};
