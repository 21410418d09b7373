/**
 * The entry of the start-up snapshot (scripts/build.mjs: dist/snapshot.blob, made by `node --build-snapshot` from this
 * module bundled as one CommonJS file). At build time it evaluates the runtime's modules and the packages they load
 * (Fastify, pino, prom-client, NodeSDK and the instrumentations, the Secrets Manager client); V8 serialises that heap,
 * and a process started with `node --snapshot-blob dist/snapshot.blob dist/server.js` (the image's CMD) begins from it
 * instead of reading, compiling and evaluating the bundle.
 * Nothing evaluated here reads the process's configuration, keeps a handle or a timer, or calls crypto.randomUUID()
 * (whose buffer of random bytes would be shared by every process from the blob): that happens in the deserialised
 * process, from its main function below, as it would from boot.ts.
 * What cannot be serialised (node:http's and node:http2's native state) is loaded on first use there
 * (scripts/lib/bundle.mjs, lazyBuiltins).
 */
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { startupSnapshot } from 'node:v8';
import Fastify from 'fastify';
import { handleSignals } from './signals.js';
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { STARTED_FROM_SNAPSHOT, Startup } from './startup.js';
// In this order: the runtime installs the hook the AWS SDK's bundled files report to as they load
// (telemetry-hooks.ts), which hands them to the AWS SDK instrumentation when telemetry starts.
import * as runtime from './runtime.js';
import * as sdk from './telemetry-sdk.js';
import * as client from '@aws-sdk/client-secrets-manager';

// Evaluated now, so kept in the snapshot (their modules' state, not just their code).
(globalThis as Record<symbol, unknown>)[Symbol.for('knative-fn.snapshot')] = [runtime, sdk, client];

/**
 * What every start runs first, run once here on throwaway objects so that the snapshot holds its compiled code: the
 * configuration's validator (Ajv), the metrics, a log line, a traced span, and a Fastify instance with a validated and
 * serialised route made ready (on a stand-in server: node:http is not loaded here). Nothing of it is kept, nothing is
 * registered globally, no handle stays open; ids drawn here (Math.random) do not repeat after deserialisation.
 */
async function warmUp(): Promise<void> {
  loadConfig({}, {});
  const metrics = createMetrics(new Startup());
  metrics.requestDuration.observe({ method: 'GET', route: '/', status_code: '200' }, 0.001);
  await metrics.registry.metrics();
  createLogger('info', { service: 'warm-up', revision: 'warm-up' }, { write: () => {} }).info({ warmUp: true }, 'warm-up');
  const provider = new sdk.TracerProvider({ resource: sdk.resourceFromAttributes({ 'service.name': 'warm-up' }) });
  provider.getTracer('warm-up').startSpan('warm-up', { attributes: { 'http.request.method': 'GET' } }).end();
  await provider.shutdown();
  const app = Fastify({ serverFactory: () => new EventEmitter() as Server });
  const schema = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } as const;
  app.post('/', { schema: { body: schema, response: { 200: schema } } }, async (request) => request.body);
  await app.ready();
}
void warmUp();

startupSnapshot.setDeserializeMainFunction(() => {
  // First, as boot.ts does: Node is PID 1 in the image and would drop a SIGTERM that has no handler yet.
  handleSignals();
  (globalThis as Record<symbol, unknown>)[STARTED_FROM_SNAPSHOT] = true;
  // The server (server.ts) and the author's function are evaluated here, at run time.
  void import('./server.js');
});
