import t from 'tap';
import { once } from 'node:events';
import { connect } from 'node:net';
import { spawnSync } from 'node:child_process';
import { tool } from './helpers/paths.js';
import { startApp } from './helpers/app.js';
import { baseEnv, startServer } from './helpers/process.js';

/** prom-client's three gauges named *_total (a known prom-client naming choice): the only allowed lint findings. */
const ALLOWED = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;

function promtoolCheck(text: string): string[] {
  const r = spawnSync(tool('bin/promtool'), ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .filter((l) => !ALLOWED.test(l));
}

t.test('the built server: /metrics on METRICS_PORT only, promtool-clean, counts only real traffic', async (t) => {
  const server = await startServer(baseEnv());
  t.teardown(() => server.stop());

  const onPublic = await fetch(`${server.url}/metrics`);
  t.equal(onPublic.status, 404, '/metrics is not served on PORT');

  for (let i = 0; i < 3; i++) await fetch(`${server.url}/?name=n${i}`);
  await fetch(`${server.url}/missing/path/${Date.now()}`);
  for (let i = 0; i < 5; i++) {
    await fetch(`${server.url}/healthz`);
    await fetch(`${server.url}/readyz`);
  }
  await fetch(`${server.metricsUrl}/metrics`);

  const res = await fetch(`${server.metricsUrl}/metrics`, { headers: { accept: 'text/plain' } });
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const text = await res.text();
  t.same(promtoolCheck(text), [], 'promtool check metrics: no findings beyond the allow-list');

  t.match(text, /http_server_request_duration_seconds_count\{method="GET",route="\/",status_code="200"\} 3(\n|$)/, 'three requests to GET /');
  t.match(text, /http_server_request_duration_seconds_count\{method="GET",route="\(unmatched\)",status_code="404"\} 2(\n|$)/, 'raw paths never become labels (/metrics on PORT and the missing path)');
  t.notMatch(text, /route="\/healthz"|route="\/readyz"|route="\/metrics"/, 'probes and scrapes are not traffic');
  t.match(text, /http_server_active_requests 0\n/);
  for (const phase of ['config', 'telemetry', 'secrets', 'listen', 'first_response']) {
    t.match(text, new RegExp(`function_cold_start_phase_seconds\\{phase="${phase}"\\} [0-9.e-]+\\n`), `cold-start phase ${phase}`);
  }
  t.match(text, /function_secret_refresh_total\{result="failure"\} 0\n/, 'refresh counters start at zero');
  t.match(text, /process_resident_memory_bytes \d+/);
  t.match(text, /nodejs_eventloop_lag_seconds /);

  const other = await fetch(`${server.metricsUrl}/anything`);
  t.equal(other.status, 404, 'nothing else on the metrics port');
});

t.test('the route label is the template under path parameters', async (t) => {
  const { url, metrics } = await startApp(t, {
    fn: {
      routes: async (app) => {
        app.get('/users/:id/orders/:order', async () => ({ ok: true }));
      },
    },
  });
  await fetch(`${url}/users/1/orders/2`);
  await fetch(`${url}/users/alice/orders/99`);
  const text = await metrics.registry.metrics();
  t.match(text, /http_server_request_duration_seconds_count\{method="GET",route="\/users\/:id\/orders\/:order",status_code="200"\} 2/);
  t.notMatch(text, /alice|orders\/99/);
});

/** Sends a request with its whole body over a raw socket, then drops the connection while the handler still runs. */
async function disconnectMidHandler(url: string, method: 'GET' | 'POST'): Promise<void> {
  const { port } = new URL(url);
  const body = method === 'POST' ? '{"a":1}' : '';
  const head = method === 'POST' ? `content-type: application/json\r\ncontent-length: ${body.length}\r\n` : '';
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`${method} /slow HTTP/1.1\r\nhost: 127.0.0.1\r\n${head}\r\n${body}`);
  await new Promise((r) => setTimeout(r, 50));
  socket.destroy();
}

t.test('a client that disconnects while the handler runs: the request ends once, whether or not its body was read', async (t) => {
  let handled = 0;
  const { url, metrics, spans, logs } = await startApp(t, {
    fn: {
      routes: async (app) => {
        const slow = async () => {
          await new Promise((r) => setTimeout(r, 300));
          handled += 1;
          return { ok: true };
        };
        app.get('/slow', slow);
        app.post('/slow', slow);
      },
    },
  });
  const active = async () => (await metrics.activeRequests.get()).values[0]?.value ?? 0;
  for (const method of ['POST', 'GET'] as const) {
    await disconnectMidHandler(url, method);
    await new Promise((r) => setTimeout(r, 50));
    t.equal(await active(), 0, `${method}: http_server_active_requests is back to 0 when the connection closes`);
    t.equal(handled, 0, 'while the handler still runs');
  }
  while (handled < 2) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 100));
  t.equal(await active(), 0, 'and stays 0 once both handlers returned (not decremented twice)');
  t.equal(spans().length, 2, 'one span per request');
  t.same(spans().map((s) => s.attributes['error.type']), ['aborted', 'aborted']);
  const lines = logs().filter((l) => l.path === '/slow');
  t.same(lines.map((l) => [l.method, l.msg]).sort(), [['GET', 'request aborted by the client'], ['POST', 'request aborted by the client']], 'one access line each');

  // A completed request still ends once, through onResponse, not a second time on close.
  t.equal((await fetch(`${url}/slow`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 200);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(await active(), 0);
  t.equal(spans().length, 3);
  t.equal(logs().filter((l) => l.path === '/slow').length, 3);
  t.equal(spans()[2]?.attributes['http.response.status_code'], 200);
});
