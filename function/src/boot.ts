/**
 * The process entry (dist/server.js): handles SIGTERM/SIGINT (signals.ts), turns on Node's compile cache, then loads
 * the server.
 * The cache (dist/compile-cache/) is written when the image is built (scripts/build.mjs) and only read at run time,
 * so it works from a read-only root filesystem; V8 then skips parsing and compiling the bundle it already knows.
 * Portable: keyed by paths relative to the cache, so a bundle built in one directory is served from another.
 */
import { enableCompileCache } from 'node:module';
import { fileURLToPath } from 'node:url';
import { handleSignals } from './signals.js';

// First, before the bundle loads: Node is PID 1 in the image and would drop a SIGTERM that has no handler yet.
handleSignals();

enableCompileCache({ directory: fileURLToPath(new URL('compile-cache', import.meta.url)), portable: true });

await import('./server.js');
