/**
 * A fault-injecting HTTP proxy in front of moto's Secrets Manager: latency, connection resets, throttling, truncated
 * or malformed bodies, and the AWS error responses moto cannot produce (AccessDeniedException, DecryptionFailure),
 * in the awsJson1_1 shape the real service sends (HTTP 400, x-amzn-ErrorType, {"__type","Message"}).
 *
 * A fault applies to the next `times` GetSecretValue calls (Infinity: all of them); then requests pass through.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Test } from 'tap';

export type Fault =
  | { kind: 'pass' }
  | { kind: 'latency'; ms: number }
  | { kind: 'reset' }
  | { kind: 'blackhole' }
  | { kind: 'truncate' }
  | { kind: 'malformed' }
  | { kind: 'aws-error'; status: number; type: string; message: string };

/** The errors exactly as AWS Secrets Manager returns them (names from the GetSecretValue API reference). */
export const AWS_ERRORS = {
  accessDenied: {
    kind: 'aws-error',
    status: 400,
    type: 'AccessDeniedException',
    message:
      'User: arn:aws:sts::123456789012:assumed-role/knative-fn/eks-pod is not authorized to perform: secretsmanager:GetSecretValue on resource: app because no identity-based policy allows the secretsmanager:GetSecretValue action',
  },
  decryptionFailure: {
    kind: 'aws-error',
    status: 400,
    type: 'DecryptionFailure',
    message: "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
  },
  throttling: { kind: 'aws-error', status: 400, type: 'ThrottlingException', message: 'Rate exceeded' },
  internal: { kind: 'aws-error', status: 500, type: 'InternalServiceError', message: 'An error occurred on the server side.' },
} as const satisfies Record<string, Fault>;

export interface FaultProxy {
  endpoint: string;
  /** Applies `fault` to the next `times` calls. */
  inject(fault: Fault, times?: number): void;
  /** Calls seen, and how many of them were faulted. */
  readonly calls: number;
  readonly faulted: number;
  /** When the first GetSecretValue call arrived (Date.now()), 0 before. */
  readonly firstCallAt: number;
  close(): Promise<void>;
}

export async function startFaultProxy(t: Test, upstream: string): Promise<FaultProxy> {
  let fault: Fault = { kind: 'pass' };
  let remaining = 0;
  let calls = 0;
  let faulted = 0;
  let firstCallAt = 0;
  const sockets = new Set<Socket>();
  const up = new URL(upstream);

  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse, mangle?: 'truncate' | 'malformed') => {
    const out = httpRequest(
      { host: up.hostname, port: up.port, method: req.method, path: req.url, headers: { ...req.headers, host: up.host } },
      (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          const full = Buffer.concat(chunks);
          const headers = { ...upRes.headers };
          if (!mangle) {
            res.writeHead(upRes.statusCode ?? 502, headers);
            res.end(full);
            return;
          }
          // Half of the real body: the secret's value is in what is sent, so a parser error that echoed it would leak.
          const half = full.subarray(0, Math.floor(full.length / 2));
          if (mangle === 'truncate') {
            // Truncated: the declared length is the full one, then the connection drops mid-body.
            headers['content-length'] = String(full.length);
            res.writeHead(upRes.statusCode ?? 200, headers);
            res.write(half);
            res.socket?.destroy();
            return;
          }
          const sent = Buffer.concat([half, Buffer.from('<html>upstream error</html>')]);
          headers['content-length'] = String(sent.length);
          res.writeHead(upRes.statusCode ?? 200, headers);
          res.end(sent);
        });
      },
    );
    out.on('error', () => res.socket?.destroy());
    out.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const isGet = String(req.headers['x-amz-target'] ?? '').endsWith('.GetSecretValue');
      if (isGet) calls += 1;
      if (isGet && !firstCallAt) firstCallAt = Date.now();
      const active = isGet && remaining > 0 ? fault : ({ kind: 'pass' } as Fault);
      if (isGet && remaining > 0) {
        remaining -= 1;
        faulted += 1;
      }
      switch (active.kind) {
        case 'pass':
          return forward(req, body, res);
        case 'latency':
          return void setTimeout(() => forward(req, body, res), active.ms);
        case 'reset':
          return void req.socket.destroy();
        case 'blackhole':
          return; // accepted, never answered
        case 'truncate':
          return forward(req, body, res, 'truncate');
        case 'malformed':
          return forward(req, body, res, 'malformed');
        case 'aws-error': {
          const payload = JSON.stringify({ __type: active.type, Message: active.message });
          res.writeHead(active.status, {
            'content-type': 'application/x-amz-json-1.1',
            'x-amzn-requestid': `fault-${calls}`,
            'x-amzn-errortype': `${active.type}:`,
            'content-length': Buffer.byteLength(payload),
          });
          return void res.end(payload);
        }
      }
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  t.teardown(close);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    inject(f, times = Infinity) {
      fault = f;
      remaining = times;
    },
    get calls() {
      return calls;
    },
    get faulted() {
      return faulted;
    },
    get firstCallAt() {
      return firstCallAt;
    },
    close,
  };
}
