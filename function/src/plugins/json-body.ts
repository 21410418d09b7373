/**
 * A JSON body parser that keeps the exact bytes received (request.rawBody), for routes that sign or verify them.
 * Parsing rejects prototype-pollution keys; invalid JSON is a 400 with a JSON error body.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import sjson from 'secure-json-parse';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body exactly as received, when parsed by the raw-body JSON parser. */
    rawBody: Buffer | null;
  }
}

class InvalidJsonError extends Error {
  readonly statusCode = 400;
  readonly code = 'FN_INVALID_JSON';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidJsonError';
  }
}

const plugin: FastifyPluginAsync = async (app) => {
  app.decorateRequest('rawBody', null);
  // JSON only: any other content type is a 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(/^application\/([\w.+-]+\+)?json(\s*;.*)?$/i, { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer;
    request.rawBody = raw;
    if (raw.length === 0) {
      done(new InvalidJsonError('the request body is empty; send a JSON document'), undefined);
      return;
    }
    try {
      done(null, sjson.parse(raw, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch {
      done(new InvalidJsonError('the request body is not valid JSON'), undefined);
    }
  });
};

/** Registers the parser in the context that registers it (not globally): `await app.register(rawJsonBody)`. */
export const rawJsonBody = fp(plugin, { name: 'raw-json-body', fastify: '5.x' });
