/**
 * Liveness and readiness on the public port, in their own context: cheap, not traced, not counted, not logged.
 * Queue-proxy probes /readyz aggressively during a cold start; the kubelet probes /healthz.
 */
import type { FastifyPluginAsync } from 'fastify';
import { CONTRACT } from '../config.js';

export interface Lifecycle {
  /** Set on SIGTERM: readiness turns 503 so no new traffic is routed here. */
  draining: boolean;
  /** True once the secrets are loaded (or none are configured). */
  ready: () => boolean;
}

const status = {
  type: 'object',
  properties: { status: { type: 'string' } },
  required: ['status'],
  additionalProperties: false,
} as const;

const health: FastifyPluginAsync<{ lifecycle: Lifecycle }> = async (app, { lifecycle }) => {
  const config = { observe: false };
  app.get(CONTRACT.probes.liveness, { config, schema: { response: { 200: status } } }, async () => ({ status: 'ok' }));
  app.get(CONTRACT.probes.readiness, { config, schema: { response: { 200: status, 503: status } } }, async (_request, reply) => {
    if (lifecycle.draining) return reply.code(503).send({ status: 'draining' });
    if (!lifecycle.ready()) return reply.code(503).send({ status: 'starting' });
    return { status: 'ready' };
  });
};

export default health;
