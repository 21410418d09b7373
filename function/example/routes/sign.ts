/**
 * POST /sign and POST /verify: HMAC-SHA256 of a JSON document's exact bytes, keyed by the SIGNING_KEY secret.
 * Both routes share one context: the raw-body JSON parser, and a preHandler that answers 503 while the key is missing.
 */
import type { FastifyPluginAsync } from 'fastify';
import { errorBodySchema, rawJsonBody } from 'knative-fn';
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNING_KEY = 'SIGNING_KEY';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signing key, set by the signing context's preHandler (only on /sign and /verify). */
    signingKey: string;
  }
}

const document = {
  description: 'A JSON object; its exact bytes (not a re-serialisation) are what is signed.',
  type: 'object',
} as const;

/** The error answers both routes share. */
const errors = { '4xx': errorBodySchema, 503: errorBodySchema } as const;

const hmac = (key: string, body: Buffer) => createHmac('sha256', key).update(body).digest();

const sign: FastifyPluginAsync = async (app) => {
  // Signing needs the body's exact bytes: this context parses JSON with a parser that keeps them.
  await app.register(rawJsonBody);
  app.decorateRequest('signingKey', '');
  app.addHook('preHandler', async (request, reply) => {
    const key = app.secrets.get(SIGNING_KEY);
    if (key === undefined) {
      return reply.code(503).send({
        statusCode: 503,
        error: 'Service Unavailable',
        message: `${SIGNING_KEY} is not configured: add a secret holding {"${SIGNING_KEY}": "..."} to SECRETS`,
        requestId: request.id,
      });
    }
    request.signingKey = key;
  });

  app.post(
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
          ...errors,
        },
      },
    },
    async (request) => {
      const body = request.rawBody ?? Buffer.alloc(0);
      return { algorithm: 'HMAC-SHA256', signature: hmac(request.signingKey, body).toString('hex'), bytes: body.length };
    },
  );

  app.post<{ Headers: { 'x-signature': string } }>(
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
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const given = Buffer.from(request.headers['x-signature'], 'hex');
      const expected = hmac(request.signingKey, request.rawBody ?? Buffer.alloc(0));
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
};

export default sign;
