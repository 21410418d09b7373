// The cold-start probe against the real function on this machine, behind a tiny "scale from zero" harness:
// a loopback proxy starts `node dist/server.js` (from its start-up snapshot, as the image does) on the first
// connection and stops it shortly after the response
// (scale to zero); the stub kubectl reports the revision's pods from the harness's state (1 while the process
// lives, 0 once it has exited), so the probe's zero-pod wait is exercised for real.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { formatSample, formatSummary, percentile, phaseMedians, summarise, type Sample } from '../deploy/lib/coldstart.ts';
import { serverArgs } from '../lib/snapshot.mjs';
import { Harness, ROOT, ksvc, platformOutputs, runCli, ssmArgs } from './deploy-harness.ts';

const COLDSTART = join(ROOT, 'scripts', 'coldstart.ts');
const SERVER = join(ROOT, 'dist', 'server.js');
const CONTRACT = JSON.parse(readFileSync(join(ROOT, 'chart', 'files', 'contract.json'), 'utf8')) as { probes: { readiness: string } };

t.test('percentiles are nearest-rank', async (t) => {
  const v = Array.from({ length: 20 }, (_, i) => 20 - i);
  t.equal(percentile(v, 0.5), 10);
  t.equal(percentile(v, 0.95), 19);
  t.equal(percentile(v, 1), 20);
  t.equal(percentile([7], 0.95), 7);
  t.equal(percentile([3, 1, 2], 0.5), 2);
  t.ok(Number.isNaN(percentile([], 0.5)));
});

t.test('summary and sample lines: what a person reads', async (t) => {
  const samples: Sample[] = [
    { index: 1, waitedSeconds: 0, status: 200, ttfbMs: 1500.4, firstRequest: true, phases: [['config', 1.2], ['secrets', 80], ['total', 100]] },
    { index: 2, waitedSeconds: 92.31, status: 200, ttfbMs: 2500, firstRequest: true, phases: [['config', 1.4], ['secrets', 120], ['total', 140]] },
    { index: 3, waitedSeconds: 90, status: 200, ttfbMs: 30, firstRequest: false, phases: [] },
    { index: 4, waitedSeconds: 90, status: 0, ttfbMs: Number.NaN, firstRequest: undefined, phases: [], error: 'socket hang up' },
  ];
  t.equal(formatSample(samples[0] as Sample),
    '  #1   waited    0.0s for zero pods  ttfb  1500 ms  status 200  cold  phases: config 1.2, secrets 80.0 ms  in process 100 ms, outside (scheduling, pull, start, network) 1400 ms');
  t.equal(formatSample(samples[2] as Sample),
    '  #3   waited   90.0s for zero pods  ttfb    30 ms  status 200  WARM (the process had served before: not a cold start)');
  t.equal(formatSample(samples[3] as Sample), '  #4   waited   90.0s for zero pods  error: socket hang up');
  const sum = summarise(samples);
  t.strictSame(sum, { n: 4, ok: 3, p50: 1500.4, p95: 2500, max: 2500, min: 30 });
  t.equal(formatSummary(sum), 'time to first byte over 3/4 samples: p50 1500 ms  p95 2500 ms  max 2500 ms  (min 30 ms)');
  t.strictSame(phaseMedians(samples), [['config', 1.2], ['secrets', 80], ['total', 100]]);
  t.equal(formatSummary(summarise([samples[3] as Sample])), 'time to first byte: no successful sample out of 1');
});

/** Scale-from-zero on loopback: the function runs only between a connection and `idleMs` after it closes. */
class ScaleFromZero {
  starts = 0;
  /** Why the function failed to start, if it did. */
  readonly errors: string[] = [];
  private stderr = '';
  /** Connections that arrived while the previous process was still up (the probe should have waited). */
  earlyRequests = 0;
  private proc: ChildProcess | undefined;
  private starting: Promise<number> | undefined;
  private active = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly server: net.Server;
  readonly podsFile: string;

  private readonly idleMs: number;

  constructor(dir: string, idleMs: number) {
    this.idleMs = idleMs;
    this.podsFile = join(dir, 'pods.json');
    this.writePods(0);
    this.server = net.createServer((client) => void this.accept(client));
  }

  private writePods(n: number): void {
    const items = Array.from({ length: n }, (_, i) => ({
      metadata: { name: `fn-00001-deployment-${i}`, labels: { 'serving.knative.dev/revision': 'fn-00001' } },
      status: { phase: 'Running' },
    }));
    writeFileSync(this.podsFile, JSON.stringify({ items }));
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private freePort(): Promise<number> {
    return new Promise((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
  }

  private async start(): Promise<number> {
    const [port, metricsPort] = [await this.freePort(), await this.freePort()];
    this.writePods(1);
    this.starts += 1;
    this.proc = spawn(process.execPath, serverArgs(SERVER), {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        SECRETS: '',
        LOG_LEVEL: 'warn',
        SHUTDOWN_TIMEOUT_SECONDS: '2',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
        K_SERVICE: 'fn',
        K_REVISION: 'fn-00001',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.stderr = '';
    this.proc.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    // Like queue-proxy's aggressive probing: poll readiness until it passes, then let the held request through.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}${CONTRACT.probes.readiness}`).then((r) => r.ok, () => false);
      if (ok) return port;
      if (Date.now() > deadline || this.proc.exitCode !== null) {
        throw new Error(`the function did not become ready (exit ${this.proc.exitCode}): ${this.stderr.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async accept(client: net.Socket): Promise<void> {
    if (this.proc && this.active === 0) this.earlyRequests += 1;
    this.active += 1;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    client.pause();
    this.starting ??= this.start();
    let port: number;
    try {
      port = await this.starting;
    } catch (err) {
      // The probe sees a reset connection and reports the sample as failed; the test shows why.
      this.errors.push((err as Error).message);
      this.active -= 1;
      client.destroy();
      return;
    }
    const upstream = net.connect(port, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    client.resume();
    const done = (): void => {
      upstream.destroy();
      this.active -= 1;
      if (this.active === 0) this.idleTimer = setTimeout(() => void this.stop(), this.idleMs);
    };
    client.once('close', done);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    const exited = new Promise((r) => proc.once('exit', r));
    if (proc.exitCode === null) proc.kill('SIGTERM');
    const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(kill);
    this.proc = undefined;
    this.starting = undefined;
    this.writePods(0);
  }

  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    await this.stop();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

t.test('make coldstart: waits for zero pods, times each cold request, reports phases and p50/p95/max', async (t) => {
  t.ok(existsSync(SERVER), `${SERVER} exists (run make build)`);
  if (!existsSync(SERVER)) return;
  const h = new Harness(['aws', 'kubectl']);
  t.teardown(() => h.cleanup());
  const zero = new ScaleFromZero(h.dir, 300);
  t.teardown(() => zero.close());
  const url = await zero.listen();
  h.rules([
    { tool: 'aws', args: ssmArgs('dev'), stdout: platformOutputs('dev') },
    { tool: 'kubectl', includes: ['get', 'ksvc'], stdout: ksvc({ url, image: 'repo@sha256:0', revision: 'fn-00001' }) },
    { tool: 'kubectl', includes: ['get', 'pods'], stdoutFile: zero.podsFile },
  ]);
  const jsonFile = join(h.dir, 'coldstart.json');
  const r = await runCli(['--env', 'dev', '--samples', '3', '--json', jsonFile], h.env({ AWS_PROFILE: 'x', COLDSTART_POLL_SECONDS: '0.1' }), process.execPath, [COLDSTART]);
  t.equal(r.code, 0, `exit 0\n${r.stdout}\n${r.stderr}\n${zero.errors.join('\n')}`);
  t.equal(zero.starts, 3, 'every sample started a new process (a real cold start)');
  t.equal(zero.earlyRequests, 0, 'no request was sent while a pod of the revision was still up');

  const lines = r.stdout.trimEnd().split('\n');
  t.equal(lines[0], `cold start probe: fn in dev, revision fn-00001, ${url}, 3 sample(s)`);
  const SAMPLE = /^ {2}#(\d) +waited +([\d.]+)s for zero pods {2}ttfb +(\d+) ms {2}status 200 {2}cold {2}phases: config [\d.]+, telemetry [\d.]+, secrets [\d.]+, listen [\d.]+, first_response [\d.]+ ms {2}in process (\d+) ms, outside \(scheduling, pull, start, network\) (\d+) ms$/;
  const ttfbs: number[] = [];
  for (let i = 1; i <= 3; i += 1) {
    const m = SAMPLE.exec(lines[i] ?? '');
    t.ok(m, `sample line ${i} has the documented format: ${lines[i]}`);
    if (!m) continue;
    t.equal(Number(m[1]), i);
    const waited = Number(m[2]);
    if (i > 1) t.ok(waited >= 0.2, `sample ${i} waited for the previous process to scale to zero (${waited}s)`);
    const ttfb = Number(m[3]);
    t.ok(ttfb + 5 >= Number(m[4]), `time to first byte (${ttfb} ms) includes the in-process time (${m[4]} ms)`);
    ttfbs.push(ttfb);
  }
  const sorted = [...ttfbs].sort((a, b) => a - b);
  t.equal(lines[4], `time to first byte over 3/3 samples: p50 ${sorted[1]} ms  p95 ${sorted[2]} ms  max ${sorted[2]} ms  (min ${sorted[0]} ms)`);
  t.match(lines[5] ?? '', /^function phases, median: config [\d.]+, telemetry [\d.]+, secrets [\d.]+, listen [\d.]+, first_response [\d.]+, total [\d.]+ ms$/);
  const podQueries = h.argv().filter((l) => l.includes('get pods -l serving.knative.dev/revision=fn-00001 -o json'));
  t.ok(podQueries.length >= 4, `the probe polled the revision's pods (${podQueries.length} times)`);
  const json = JSON.parse(readFileSync(jsonFile, 'utf8')) as { summary: { n: number; ok: number }; samples: Sample[] };
  t.strictSame(json.summary.n, 3);
  t.ok(json.samples.every((s) => s.firstRequest === true && s.phases.length >= 5));
});

t.test('coldstart gives up when the revision never reaches zero pods', async (t) => {
  const h = new Harness(['aws', 'kubectl']);
  t.teardown(() => h.cleanup());
  const pods = JSON.stringify({ items: [{ metadata: { name: 'p' }, status: { phase: 'Running' } }] });
  h.rules([
    { tool: 'aws', args: ssmArgs('dev'), stdout: platformOutputs('dev') },
    { tool: 'kubectl', includes: ['get', 'ksvc'], stdout: ksvc({ url: 'http://127.0.0.1:9', image: 'repo@sha256:0', revision: 'fn-00001' }) },
    { tool: 'kubectl', includes: ['get', 'pods'], stdout: pods },
  ]);
  const r = await runCli(['--env', 'dev', '--samples', '2'], h.env({ AWS_PROFILE: 'x', COLDSTART_POLL_SECONDS: '0.1', COLDSTART_ZERO_TIMEOUT_SECONDS: '0.5' }), process.execPath, [COLDSTART]);
  t.equal(r.code, 1);
  t.match(r.stderr, 'the revision still has 1 pod(s) after 1s: is autoscaling.minScale > 0');
});

t.test('coldstart refuses a bad sample count', async (t) => {
  const h = new Harness([]);
  t.teardown(() => h.cleanup());
  const r = await runCli(['--env', 'dev', '--samples', 'ten'], h.env(), process.execPath, [COLDSTART]);
  t.equal(r.code, 2);
  t.match(r.stderr, 'REFUSED: N=ten is not a positive integer');
  t.strictSame(h.argv(), []);
});
