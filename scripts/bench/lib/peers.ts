/**
 * The function's peers for a benchmark, on loopback: moto as Secrets Manager and an OTLP/HTTP receiver that accepts
 * every trace export (200, empty protobuf body) and counts what it was sent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Moto {
  endpoint: string;
  stop(): void;
}

/** Starts moto_server and creates one secret holding SIGNING_KEY, as the example function expects. */
export async function startMoto(bin: string, secretId: string): Promise<Moto> {
  const port = await freePort();
  const child: ChildProcess = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += String(d)));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${endpoint}/moto-api/`)).status < 500) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`moto_server exited: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`moto_server did not start within 30 s: ${stderr}`);
    await sleep(100);
  }
  // Secrets Manager's JSON protocol; moto does not check signatures.
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'secretsmanager.CreateSecret',
      authorization: 'AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: JSON.stringify({ Name: secretId, SecretString: JSON.stringify({ SIGNING_KEY: 'bench-signing-key' }) }),
  });
  if (!res.ok) throw new Error(`moto CreateSecret: ${res.status} ${await res.text()}`);
  return { endpoint, stop: () => void child.kill('SIGTERM') };
}

export interface OtlpSink {
  endpoint: string;
  /** Export requests and bytes received so far. */
  stats(): { exports: number; bytes: number };
  stop(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  let exports = 0;
  let bytes = 0;
  const server: Server = createHttpServer((req, res) => {
    req.on('data', (d: Buffer) => (bytes += d.length));
    req.on('end', () => {
      if (req.url === '/v1/traces') exports += 1;
      res.writeHead(req.url === '/v1/traces' ? 200 : 404, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats: () => ({ exports, bytes }),
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
