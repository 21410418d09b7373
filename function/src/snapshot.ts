/**
 * The entry of the start-up snapshot (scripts/build.mjs: dist/snapshot.blob, made by `node --build-snapshot` from this
 * module bundled as one CommonJS file). At build time it evaluates the runtime's modules and the packages they load
 * (Fastify, pino, prom-client, NodeSDK and the instrumentations, the Secrets Manager client); V8 serialises that heap,
 * and a process started with `node --snapshot-blob dist/snapshot.blob dist/server.js` (the image's CMD) begins from it
 * instead of reading, compiling and evaluating the bundle.
 * Nothing in what is evaluated here reads the configuration, opens a handle, starts a timer or draws random numbers:
 * all of that happens in the deserialised process, from its main function below, as it would from boot.ts.
 * What cannot be serialised (node:http's and node:http2's native state) is loaded on first use there
 * (scripts/lib/bundle.mjs, lazyBuiltins).
 */
import { startupSnapshot } from 'node:v8';
import { handleSignals } from './signals.js';
import { STARTED_FROM_SNAPSHOT } from './startup.js';
// In this order: the runtime installs the hook the AWS SDK's bundled files report to as they load
// (telemetry-hooks.ts), which hands them to the AWS SDK instrumentation when telemetry starts.
import * as runtime from './runtime.js';
import * as sdk from './telemetry-sdk.js';
import * as client from '@aws-sdk/client-secrets-manager';

// Evaluated now, so kept in the snapshot (their modules' state, not just their code).
(globalThis as Record<symbol, unknown>)[Symbol.for('knative-fn.snapshot')] = [runtime, sdk, client];

startupSnapshot.setDeserializeMainFunction(() => {
  // First, as boot.ts does: Node is PID 1 in the image and would drop a SIGTERM that has no handler yet.
  handleSignals();
  (globalThis as Record<symbol, unknown>)[STARTED_FROM_SNAPSHOT] = true;
  // The server (server.ts) and the author's function are evaluated here, at run time.
  void import('./server.js');
});
