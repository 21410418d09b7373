/**
 * The start-up snapshot (function/src/snapshot.ts, scripts/lib/snapshot.mjs): processes begin from the evaluated
 * runtime, as the image's do, and behave as one that loads the bundle; what must differ per process (ids drawn from
 * randomness) differs; a blob this Node did not make is never handed to it.
 */
import t from 'tap';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SNAPSHOT_BLOB, SNAPSHOT_MADE_BY, serverArgs } from '../../scripts/lib/snapshot.mjs';
import { fixtureServer } from './helpers/bundle.js';
import { NODE } from './helpers/paths.js';
import { baseEnv, startServer } from './helpers/process.js';

const script = await fixtureServer();
const listening = (output: string) => JSON.parse(output.split('\n').find((l) => l.includes('"msg":"listening"')) ?? '{}') as { snapshot?: boolean };

t.test('two processes from the same blob: each its own request ids and trace ids, the configuration of its own environment', { skip: process.env.TEST_SNAPSHOT === 'off' && 'TEST_SNAPSHOT=off' }, async (t) => {
  t.match(serverArgs(script, NODE), ['--snapshot-blob', /snapshot\.blob$/, script], 'the fixture has a blob this Node made');
  const seen: Array<{ requestId: string; traceparent: string }> = [];
  for (const service of ['first', 'second']) {
    const s = await startServer(baseEnv({ K_SERVICE: service, OTEL_TRACES_EXPORTER: 'console' }));
    t.teardown(() => s.stop());
    t.equal(listening(s.output()).snapshot, true, `${service}: started from the snapshot`);
    const res = await fetch(s.url);
    t.equal(res.status, 200);
    const accessLine = () => s.output().split('\n').find((l) => l.includes('"request_id"'));
    // The access line is written as the response ends.
    for (let i = 0; i < 100 && !accessLine(); i++) await new Promise((r) => setTimeout(r, 20));
    const line = accessLine();
    t.match(line, new RegExp(`"service":"${service}"`), `${service}: K_SERVICE read at run time`);
    seen.push({ requestId: /"request_id":"([^"]+)"/.exec(line ?? '')?.[1] ?? '', traceparent: res.headers.get('traceresponse') ?? '' });
  }
  t.ok(seen[0]?.requestId && seen[0].traceparent, 'ids present');
  t.not(seen[0]?.requestId, seen[1]?.requestId, 'request ids (crypto.randomUUID) differ');
  t.not(seen[0]?.traceparent.split('-')[1], seen[1]?.traceparent.split('-')[1], 'trace ids (Math.random) differ');
});

t.test('a blob made by another Node is not used: the plain entry starts, same runtime', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'snapshot-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(script, '..'), dir, { recursive: true });
  const server = join(dir, 'server.js');
  const madeBy = JSON.parse(readFileSync(join(dir, SNAPSHOT_MADE_BY), 'utf8')) as { version: string };
  writeFileSync(join(dir, SNAPSHOT_MADE_BY), JSON.stringify({ ...madeBy, version: 'v0.0.0' }));
  t.same(serverArgs(server, NODE), [server], 'another version: no --snapshot-blob');
  const s = await startServer(baseEnv(), 20_000, { script: server });
  t.teardown(() => s.stop());
  t.equal(listening(s.output()).snapshot, false, 'started by loading the bundle');
  t.equal((await fetch(s.url)).status, 200);

  rmSync(join(dir, SNAPSHOT_BLOB));
  copyFileSync(join(script, '..', SNAPSHOT_MADE_BY), join(dir, SNAPSHOT_MADE_BY));
  t.same(serverArgs(server, NODE), [server], 'no blob: no --snapshot-blob');
});
