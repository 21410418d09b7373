/** GET /: a greeting, with the revision that answered and whether this request woke the function (a cold start). */
import type { FastifyPluginAsync } from 'fastify';
import type { EnvOf } from 'knative-fn';

/**
 * This route's settings, declared where they are used (index.ts gathers every route file's `env`): validated at
 * start-up, read as `app.config.GREETING`; their values come from the function's values.yaml (`function.env`).
 */
export const env = {
  GREETING: { type: 'string', minLength: 1, maxLength: 32, default: 'Hello', description: 'the greeting word' },
} as const;

declare module 'fastify' {
  interface FunctionEnv extends EnvOf<typeof env> {}
}

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
      message: `${app.config.GREETING}, ${request.query.name ?? 'world'}!`,
      function: app.knative.service,
      revision: app.knative.revision,
      firstRequest: request.firstRequest,
    }),
  );
};

export default root;
