/**
 * moto's server as Secrets Manager: the real AWS wire protocol, on a free loopback port, started per test file.
 */
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { Test } from 'tap';
import { tool } from './paths.js';

export const REGION = 'us-east-1';

export interface Moto {
  endpoint: string;
  client: SecretsManagerClient;
  /** Env for a function process that reads secrets from this moto. */
  env: Record<string, string>;
  createSecret(name: string, value: string): Promise<void>;
  putSecret(name: string, value: string): Promise<void>;
  scheduleDeletion(name: string): Promise<void>;
}

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

export async function startMoto(t: Test): Promise<Moto> {
  const bin = tool('.venv/bin/moto_server');
  const port = await freePort();
  const child = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  t.teardown(() => {
    child.kill('SIGTERM');
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.status < 500) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null) throw new Error(`moto_server exited: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`moto_server did not start in 30 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  const client = new SecretsManagerClient({ region: REGION, endpoint, credentials });
  return {
    endpoint,
    client,
    env: {
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    async createSecret(name, value) {
      await client.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    },
    async putSecret(name, value) {
      await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
    },
    async scheduleDeletion(name) {
      await client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    },
  };
}
