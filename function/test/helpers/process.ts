/**
 * Runs a server bundle as its own process, the way the image does, and captures its output. The bundle is the runtime
 * around a fixture function (helpers/bundle.ts: the basic fixture unless a test names another), never dist/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { serverArgs } from '../../../scripts/lib/snapshot.mjs';
import { fixtureServer } from './bundle.js';
import { NODE } from './paths.js';

/**
 * Node's arguments for a server bundle, as the image's CMD: from its start-up snapshot
 * (scripts/lib/snapshot.mjs). TEST_SNAPSHOT=off runs the plain entry instead (what a process without the blob runs).
 */
export function nodeArgs(script: string): string[] {
  return process.env.TEST_SNAPSHOT === 'off' ? [script] : serverArgs(script, NODE);
}

export interface RunningServer {
  child: ChildProcess;
  port: number;
  metricsPort: number;
  url: string;
  metricsUrl: string;
  output(): string;
  /** Resolves with the exit code (or signal name) and how long after `since` it came. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  stop(): Promise<void>;
}

export interface SpawnResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  stdout: string;
  stderr: string;
}

/** Base environment: no AWS credentials from the machine, tracing off unless a test asks for it. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    PORT: '0',
    METRICS_PORT: '0',
    SECRETS: '',
    OTEL_TRACES_EXPORTER: 'none',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

/** Runs the server until it exits on its own (start-up failures); kills it after `timeoutMs`. */
export async function runToExit(env: Record<string, string>, timeoutMs = 20_000, script?: string): Promise<SpawnResult> {
  const bundle = script ?? (await fixtureServer());
  const started = Date.now();
  const child = spawn(NODE, nodeArgs(bundle), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += String(d)));
  child.stderr.on('data', (d) => (stderr += String(d)));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return { code, signal, ms: Date.now() - started, stdout, stderr };
}

/**
 * The command line that runs the bundle exactly as the image does. tap adds its own `--import` (process info, which
 * also turns source maps on) to NODE_OPTIONS of every process a test spawns, whatever env the test passes; `env`
 * sets NODE_OPTIONS back to the test's own value (or unsets it) just before it execs node, in the same process.
 * Memory figures need this: with tap's hooks the process holds the parsed source map (about 22 MiB more heap) and its
 * RSS behaves differently.
 */
export function asImage(env: Record<string, string>, script: string): [string, string[]] {
  const nodeOptions = env.NODE_OPTIONS ? [`NODE_OPTIONS=${env.NODE_OPTIONS}`] : [];
  return ['/usr/bin/env', ['-u', 'NODE_OPTIONS', ...nodeOptions, NODE, ...nodeArgs(script)]];
}

export interface StartOptions {
  /** Run the bundle without the test runner's injected hooks (see asImage); needed for memory figures. */
  exact?: boolean;
  /** The server bundle to run (helpers/bundle.ts fixtureServer(name)); the basic fixture's when not given. */
  script?: string;
}

/** Starts the server and waits for its `listening` line. */
export async function startServer(env: Record<string, string>, timeoutMs = 20_000, options: StartOptions = {}): Promise<RunningServer> {
  const script = options.script ?? (await fixtureServer());
  const [command, args] = options.exact ? asImage(env, script) : [NODE, nodeArgs(script)];
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const ports = await new Promise<{ port: number; metricsPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    let listening = false;
    // The one listener that records stdout, for the whole life of the process: every line is in output() once.
    const onData = (d: Buffer) => {
      out += String(d);
      if (listening) return;
      for (const line of out.split('\n')) {
        if (!line.includes('"listening"')) continue;
        const parsed = JSON.parse(line) as { port: number; metricsPort: number };
        listening = true;
        clearTimeout(timer);
        resolve({ port: parsed.port, metricsPort: parsed.metricsPort });
        return;
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => (out += String(d)));
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
  return {
    child,
    ...ports,
    url: `http://127.0.0.1:${ports.port}`,
    metricsUrl: `http://127.0.0.1:${ports.metricsPort}`,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
