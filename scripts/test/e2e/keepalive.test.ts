/**
 * Keep-alive between queue-proxy and the function: queue-proxy's transport keeps an idle connection up to 90 s
 * (Go's default IdleConnTimeout). A connection idle longer than Fastify's default keep-alive (72 s) must still be
 * open on the function's side and be reused without a 502. Slow tier: ~80 s idle.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { send, startStack } from './harness.ts';

const IDLE_MS = Number(process.env.E2E_KEEPALIVE_IDLE_MS ?? 80_000);

/** queue-proxy -> function connections (local ports of queue-proxy's side), seen from inside the pod's network. */
function upstreamConnections(wrap: (c: string, a: string[]) => { command: string; args: string[] }, userPort: number): string[] {
  const cmd = wrap('ss', ['-Htn', 'state', 'established', `( dport = :${userPort} )`]);
  const out = execFileSync(cmd.command, cmd.args, { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 4)
    .map((f) => f[2]!)
    .sort();
}

t.test(`a queue-proxy -> function connection idle for ${IDLE_MS / 1000} s is reused without a 502`, { timeout: IDLE_MS + 120_000 }, async (t) => {
  const stack = await startStack(t);
  const userPort = stack.model.revision.containerPort;
  const first = await send(`${stack.endpoints.FUNCTION_URL}/`);
  t.equal(first.status, 200, 'first request');
  const before = upstreamConnections(stack.network.wrap, userPort);
  t.ok(before.length >= 1, `queue-proxy holds a connection to the function: ${before.join(', ')}`);

  await sleep(IDLE_MS);
  const during = upstreamConnections(stack.network.wrap, userPort);
  t.same(during, before, `after ${IDLE_MS / 1000} s idle the same connection is still open: ${during.join(', ')}`);

  const second = await send(`${stack.endpoints.FUNCTION_URL}/`);
  t.equal(second.status, 200, `request after the idle period: ${second.status} ${second.body}`);
  const after = upstreamConnections(stack.network.wrap, userPort);
  t.same(after, before, `the idle connection was reused, no new one dialled: ${after.join(', ')}`);
  t.notMatch(stack.proc('queue-proxy').output(), /error reverse proxying request|EOF/i, 'queue-proxy logged no proxy error');
});
