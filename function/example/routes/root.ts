/** GET /: a greeting, with the revision that answered and whether this request woke the function (a cold start). */
import type { FastifyPluginAsync } from 'fastify';

const root: FastifyPluginAsync = async (app) => {
  app.get<{ Querystring: { name?: string } }>(
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
    async (request) => ({
      message: `Hello, ${request.query.name ?? 'world'}!`,
      function: app.knative.service,
      revision: app.knative.revision,
      firstRequest: request.firstRequest,
    }),
  );
};

export default root;
