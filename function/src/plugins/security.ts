/**
 * HTTP hardening for a JSON API: helmet headers, and JSON error bodies for every failure
 * (validation, unknown route, bad content type, oversize body) that never echo internals on 5xx.
 */
import type { FastifyError, FastifyPluginAsync } from 'fastify';
import helmet from '@fastify/helmet';
import fp from 'fastify-plugin';
import { STATUS_CODES } from 'node:http';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  requestId: string;
}

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

const security: FastifyPluginAsync = async (app) => {
  await app.register(helmet, {
    global: true,
    // A JSON API renders nothing: forbid every fetch and every framing.
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    frameguard: { action: 'deny' },
    crossOriginEmbedderPolicy: false,
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const code = error.statusCode ?? 500;
    const statusCode = code >= 400 && code < 600 ? code : 500;
    if (statusCode >= 500) {
      // Full detail goes to the log (with trace ids); the caller gets no internals.
      request.log.error({ err: error }, 'request failed');
      return reply.code(statusCode).send({
        statusCode,
        error: STATUS_CODES[statusCode] ?? 'Internal Server Error',
        message: 'the function failed to handle the request; see its logs with this requestId',
        requestId: request.id,
      } satisfies ErrorBody);
    }
    return reply.code(statusCode).send({
      statusCode,
      error: STATUS_CODES[statusCode] ?? 'Bad Request',
      message: error.message,
      requestId: request.id,
    } satisfies ErrorBody);
  });

  // Node answers an Expect header other than 100-continue itself, before Fastify sees the request, with an empty 417.
  app.server.on('checkExpectation', (_request, response) => {
    const body = JSON.stringify({ statusCode: 417, error: 'Expectation Failed', message: 'only "Expect: 100-continue" is supported' });
    response.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    response.end(body);
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      statusCode: 404,
      error: 'Not Found',
      message: `no route for ${request.method} ${request.url.split('?', 1)[0]}`,
      requestId: request.id,
    } satisfies ErrorBody);
  });
};

export default fp(security, { name: 'security', fastify: '5.x' });
