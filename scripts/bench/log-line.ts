#!/usr/bin/env node
/**
 * What one access line costs the process, by pino destination: synchronous write(2) per line (`sync`), the
 * asynchronous destination the function uses (`async`: written by the next write, batched while one is under way),
 * and a batching one (`batch`: 4 KiB or 100 ms). 200,000 lines of the access line's shape, 20 per event-loop turn as
 * under load; CPU time of the process (all threads) per line. Where stdout goes matters: run it both ways.
 *
 *   node scripts/bench/log-line.ts sync|async|batch > /dev/null
 *   node scripts/bench/log-line.ts sync|async|batch | cat > /dev/null     # a pipe, as a container's stdout is
 */
import { pino } from 'pino';

const mode = process.argv[2] ?? 'async';
if (!['sync', 'async', 'batch'].includes(mode)) throw new Error('mode is sync, async or batch');
const dest = pino.destination({ fd: 1, sync: mode === 'sync', ...(mode === 'batch' ? { minLength: 4096, periodicFlush: 100 } : {}) });
const log = pino({ base: { service: 'bench', revision: 'bench-00001' }, messageKey: 'msg', formatters: { level: (l) => ({ level: l }) } }, dest);
const lines = 200_000;
const line = { request_id: '6c4537cc-3335-450f-b58e-682dadf3a17a', trace_id: 'd4a88be255c6a5e0d92bc0b0dfd298a6', span_id: '54ee7743711d1570', method: 'GET', route: '/', path: '/', statusCode: 200, durationMs: 0.8 };
const before = process.cpuUsage();
let written = 0;
await new Promise<void>((resolve) => {
  const turn = () => {
    for (let k = 0; k < 20; k++, written++) log.info(line, 'request completed');
    if (written < lines) setImmediate(turn);
    else resolve();
  };
  turn();
});
dest.flushSync();
const used = process.cpuUsage(before);
process.stderr.write(`${mode}: ${((used.user + used.system) / lines).toFixed(2)} us CPU per line (user ${(used.user / lines).toFixed(2)}, system ${(used.system / lines).toFixed(2)})\n`);
