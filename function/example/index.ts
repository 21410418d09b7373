/**
 * The example function: a greeting (routes/root.ts), and HMAC-SHA256 signing and verification of JSON documents
 * keyed by the SIGNING_KEY secret from AWS Secrets Manager (routes/sign.ts).
 *
 * A function is a folder like this one, built with `make build FUNCTION=<folder>` (default function/example). Its
 * index.ts exports `routes` (a Fastify plugin, as here) and/or `handler` (an AWS Lambda handler; see
 * function/examples/lambda/), and optionally `init` and `shutdown`. It imports only the public module 'knative-fn'
 * (and npm packages); everything else (secrets, metrics, traces, health, drain, hardening) is the runtime's.
 */
import type { FastifyPluginAsync } from 'fastify';
import root, { env as rootEnv } from './routes/root.ts';
import sign from './routes/sign.ts';

/** The settings the routes declare (each route file exports its own `env`). */
export const env = { ...rootEnv };

export const routes: FastifyPluginAsync = async (app) => {
  await app.register(root);
  await app.register(sign);
};
