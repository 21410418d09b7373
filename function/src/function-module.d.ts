/**
 * The author's function module, bound at build time: scripts/build.mjs resolves this specifier to
 * `<FUNCTION>/index.ts`. server.ts checks its shape (FunctionModule, api.ts) at start-up; the build checks it first.
 */
declare module 'knative-fn/function';
