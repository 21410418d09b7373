#!/usr/bin/env node
/**
 * `make dev`: starts the local stack, prints one KEY=URL line per endpoint and a short guide, then waits.
 * Ctrl-C or SIGTERM stops everything in the pod's order (queue-proxy drains, then the function, then the peers).
 * A second Ctrl-C skips queue-proxy's 30 s drain.
 *
 * Environment: DEV_*_PORT (see PORT_ENV in lib/stack.ts), DEV_STATE_DIR (default .dev/), DEV_SCRAPE_INTERVAL
 * (default 5s), DEV_VERBOSE=1 (echo every process' log lines), QUEUE_PROXY_BIN / JAEGER_BIN / PROMETHEUS_BIN /
 * MOTO_SERVER_BIN / HELM_BIN (tool overrides; default ./bin, ./.venv/bin).
 */
import { join } from 'node:path';
import { PORT_ENV, portsFromEnv, REPO_ROOT, Stack, type Endpoints } from './lib/stack.ts';
import { describeExit } from './lib/proc.ts';
import { StackError } from './lib/wait.ts';

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const info = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export function guide(e: Endpoints, secretId: string): string {
  return `
The function runs behind Knative's queue-proxy, as in a pod. Try:

  curl -i ${e.FUNCTION_URL}/
  curl -s -X POST ${e.FUNCTION_URL}/sign -H 'content-type: application/json' -d '{"hello":"world"}'

Every response carries 'traceresponse: 00-<trace id>-<span id>-01'. Print that trace's span tree:

  make trace ID=<trace id>            (Jaeger API at ${e.JAEGER_URL})

Requests counted by the function, in Prometheus (${e.PROMETHEUS_URL}/graph):

  sum by (route, status_code) (http_server_request_duration_seconds_count{container="function"})

Secrets Manager is moto at ${e.SECRETS_ENDPOINT} (secret ${secretId}); logs are in .dev/logs/.
Ctrl-C stops everything (queue-proxy drains for 30 s first, as in a pod; Ctrl-C again to skip the drain).`;
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
  out(guide(e, stack.secretId));
  info(`\nready in ${((Date.now() - started) / 1000).toFixed(1)} s; ports are set with ${Object.values(PORT_ENV).slice(0, 2).join(', ')}, ... (docs/local-stack.md)`);

  // Echo the function's and queue-proxy's exits: if one dies, say so and stop the rest.
  let stopping = false;
  const stop = async (reason: string, drain: boolean): Promise<number> => {
    stopping = true;
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
    for (const name of ['function', 'queue-proxy', 'jaeger', 'prometheus', 'moto']) {
      void stack.proc(name).exited.then((exit) => {
        if (stopping) return;
        info(`\n${name} exited unexpectedly (${describeExit(exit)}); last output:\n${stack.proc(name).tail()}`);
        void stop(`${name} exited`, false).then(() => resolve(1));
      });
    }
  });
}

process.exitCode = await main();
