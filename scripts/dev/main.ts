#!/usr/bin/env node
/**
 * `make dev`: starts the local stack, prints one KEY=URL line per endpoint and a short guide, then waits.
 * Ctrl-C or SIGTERM stops everything in the pod's order (queue-proxy drains, then the function, then the peers).
 * A second Ctrl-C skips queue-proxy's 30 s drain.
 *
 * Rebuilds and restarts the function when a file under function/ (or the function's folder elsewhere) changes (DEV_WATCH=0: off; DEV_BUILD: the build
 * command, default scripts/build.mjs).
 * Environment: DEV_*_PORT (see PORT_ENV in lib/stack.ts), DEV_STATE_DIR (default .dev/), DEV_SCRAPE_INTERVAL
 * (default 5s), DEV_VERBOSE=1 (echo every process' log lines), QUEUE_PROXY_BIN / JAEGER_BIN / PROMETHEUS_BIN /
 * MOTO_SERVER_BIN / HELM_BIN (tool overrides; default ./bin, ./.venv/bin).
 */
import { spawn } from 'node:child_process';
import { watch } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { DEFAULT_PORTS, functionValues, PORT_ENV, portsFromEnv, REPO_ROOT, Stack, type Endpoints } from './lib/stack.ts';
import { describeExit } from './lib/proc.ts';
import { StackError } from './lib/wait.ts';

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const info = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Where `make trace` looks when JAEGER_URL is not set (scripts/trace.ts). */
const DEFAULT_JAEGER_URL = `http://127.0.0.1:${DEFAULT_PORTS.jaegerQuery}`;

export function guide(e: Endpoints, secretId: string, probePath = '/'): string {
  return `
The function runs behind Knative's queue-proxy, as in a pod. Try (function.probePath of its values.yaml):

  curl -i ${e.FUNCTION_URL}${probePath}

Every response carries 'traceresponse: 00-<trace id>-<span id>-01'. Print that trace's span tree:

  ${e.JAEGER_URL === DEFAULT_JAEGER_URL ? 'make trace ID=<trace id>' : `JAEGER_URL=${e.JAEGER_URL} make trace ID=<trace id>`}            (Jaeger API at ${e.JAEGER_URL})

Requests counted by the function, in Prometheus (${e.PROMETHEUS_URL}/graph):

  sum by (route, status_code) (http_server_request_duration_seconds_count{container="function"})

Secrets Manager is moto at ${e.SECRETS_ENDPOINT} (secret ${secretId}); logs are in .dev/logs/.
Ctrl-C stops everything (queue-proxy drains for 30 s first, as in a pod; Ctrl-C again to skip the drain).`;
}

/**
 * Rebuilds (make build's scripts/build.mjs: type-check and bundle) when a file under function/ changes, then
 * restarts the function alone; queue-proxy and the peers stay up. A failed build keeps the running function.
 */
function watchAndRestart(stack: Stack, stopping: () => boolean, restarted: () => void): () => void {
  // function/ (the runtime and the functions kept there), and the function's folder when it lives elsewhere.
  const fnDir = resolve(REPO_ROOT, process.env.FUNCTION || 'function/example');
  const dirs = [join(REPO_ROOT, 'function'), ...(relative(join(REPO_ROOT, 'function'), fnDir).startsWith('..') ? [fnDir] : [])];
  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  let again = false;
  const rebuild = async (): Promise<void> => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    const t = Date.now();
    info(`\n==> change under ${dirs.map((d) => `${relative(REPO_ROOT, d)}/`).join(' or ')}: rebuilding`);
    const code = await new Promise<number | null>((resolve) => {
      // DEV_BUILD: another build command (a shell line), e.g. for a test that must not rewrite dist/.
      const [command, args] = process.env.DEV_BUILD
        ? ['/bin/sh', ['-c', process.env.DEV_BUILD]]
        : [join(REPO_ROOT, 'node_modules/.bin/node'), [join(REPO_ROOT, 'scripts/build.mjs')]];
      // Both streams kept: tsc writes its errors on stdout, esbuild and the build's own messages on stderr.
      const b = spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      b.stdout.on('data', (d: Buffer) => (err += d.toString()));
      b.stderr.on('data', (d: Buffer) => (err += d.toString()));
      b.once('close', (c) => {
        if (c !== 0) info(err.trim());
        resolve(c);
      });
    });
    const buildMs = Date.now() - t;
    if (code !== 0) {
      info(`==> build failed in ${(buildMs / 1000).toFixed(1)} s: the running function stays as it was`);
    } else if (!stopping()) {
      try {
        const restartMs = await stack.restartFunction((m) => info(`==> ${m}`));
        restarted();
        info(`==> rebuilt in ${(buildMs / 1000).toFixed(1)} s, function restarted and ready in ${restartMs} ms (queue-proxy and peers stayed up)`);
      } catch (err) {
        info(`==> the function did not start again: ${(err as Error).message}`);
      }
    }
    busy = false;
    if (again) {
      again = false;
      void rebuild();
    }
  };
  const watchers = dirs.map((dir) => watch(dir, { recursive: true }, (_event, file) => {
    if (!file || /(^|\/)(node_modules|\.tap)(\/|$)|\.(test\.ts|md)$/.test(String(file))) return;
    clearTimeout(timer);
    timer = setTimeout(() => void rebuild(), 200);
  }));
  // Closed on stop: a recursive watcher on Linux keeps the process alive even when unref'd.
  return () => {
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}

async function main(): Promise<number> {
  const started = Date.now();
  const verbose = process.env.DEV_VERBOSE === '1';
  let stack: Stack;
  try {
    stack = await Stack.start({
      stateDir: process.env.DEV_STATE_DIR || join(REPO_ROOT, '.dev'),
      ports: portsFromEnv(process.env),
      scrapeInterval: process.env.DEV_SCRAPE_INTERVAL || '5s',
      onStep: (m) => info(`==> ${m}`),
      onLine: verbose ? (name, line) => info(`[${name}] ${line}`) : undefined,
    });
  } catch (err) {
    if (err instanceof StackError) {
      info(`make dev: ${err.message}`);
      if (err.hint) info(`  -> ${err.hint}`);
      return 1;
    }
    throw err;
  }
  const e = stack.endpoints;
  for (const key of ['FUNCTION_URL', 'METRICS_URL', 'JAEGER_URL', 'PROMETHEUS_URL', 'SECRETS_ENDPOINT'] as const) out(`${key}=${e[key]}`);
  out(guide(e, stack.secretId, functionValues(REPO_ROOT).probePath));
  info(`\nready in ${((Date.now() - started) / 1000).toFixed(1)} s; ports are set with ${Object.values(PORT_ENV).slice(0, 2).join(', ')}, ... (docs/local-stack.md)`);

  // Echo the function's and queue-proxy's exits: if one dies, say so and stop the rest.
  let stopping = false;
  let unwatch = (): void => {};
  const stop = async (reason: string, drain: boolean): Promise<number> => {
    stopping = true;
    unwatch();
    info(`\n==> ${reason}: stopping${drain ? ' (queue-proxy drains for 30 s; Ctrl-C again to skip)' : ''}`);
    const exits = await stack.stop({ drain });
    for (const [name, exit] of Object.entries(exits)) info(`    ${name}: ${describeExit(exit)}`);
    const fn = exits.function;
    return fn && fn.code === 0 ? 0 : 1;
  };

  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals += 1;
      if (signals === 1) {
        void stop(signal, true).then(resolve);
      } else {
        // Skip queue-proxy's drain (a second signal makes it exit at once); the function still drains its own requests.
        info('==> second signal: skipping the drain');
        stack.procs.get('function')?.signalOnce('SIGTERM');
        stack.procs.get('queue-proxy')?.signal('SIGINT');
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const watchExit = (name: string): void => {
      const proc = stack.proc(name);
      void proc.exited.then((exit) => {
        if (stopping || stack.restarting || stack.procs.get(name) !== proc) return;
        info(`\n${name} exited unexpectedly (${describeExit(exit)}); last output:\n${proc.tail()}`);
        void stop(`${name} exited`, false).then(() => resolve(1));
      });
    };
    for (const name of ['function', 'queue-proxy', 'jaeger', 'prometheus', 'moto']) watchExit(name);
    if (process.env.DEV_WATCH !== '0') {
      unwatch = watchAndRestart(stack, () => stopping, () => watchExit('function'));
    }
  });
}

process.exitCode = await main();
