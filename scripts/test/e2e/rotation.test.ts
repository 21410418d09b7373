/**
 * Secret rotation: a new FIXTURE_KEY version put in Secrets Manager (moto) is used by /digest within the refresh TTL,
 * and no request fails during the switch.
 */
import t from 'tap';
import { hmac, send, startStack } from './harness.ts';

const REFRESH_SECONDS = 2;

t.test(`a rotated FIXTURE_KEY is used within the refresh TTL (${REFRESH_SECONDS} s), no request fails`, async (t) => {
  // The chart's schema keeps the TTL >= 10 s; the test shortens it in the function's environment only.
  const stack = await startStack(t, { functionEnv: { SECRETS_REFRESH_SECONDS: String(REFRESH_SECONDS) } });
  const url = `${stack.endpoints.FUNCTION_URL}/digest`;
  const body = JSON.stringify({ order: 42, amount: '9.99' });
  const oldKey = stack.signingKey;

  const before = await send(url, { body });
  t.equal(before.status, 200, `sign before rotation: ${before.body}`);
  t.equal((JSON.parse(before.body) as { digest: string }).digest, hmac(oldKey, body), 'signed with the seeded key');
  const verified = await send(`${stack.endpoints.FUNCTION_URL}/digest/check`, { body, headers: { 'x-digest': hmac(oldKey, body) } });
  t.equal(verified.status, 200, '/digest/check accepts the signature');

  const newKey = await stack.rotateSigningKey();
  const rotatedAt = Date.now();
  let switchedAt: number | undefined;
  const statuses = new Map<number, number>();
  let unexpected = 0;
  while (Date.now() - rotatedAt < (REFRESH_SECONDS + 8) * 1000) {
    const r = await send(url, { body });
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    if (r.status !== 200) continue;
    const sig = (JSON.parse(r.body) as { digest: string }).digest;
    if (sig === hmac(newKey, body)) {
      switchedAt = Date.now();
      break;
    }
    if (sig !== hmac(oldKey, body)) unexpected += 1;
  }
  t.same([...statuses.keys()], [200], `every request during the rotation succeeded: ${JSON.stringify([...statuses])}`);
  t.equal(unexpected, 0, 'every signature was made with the old or the new key');
  t.ok(switchedAt, 'the new key was used');
  const after = switchedAt! - rotatedAt;
  t.ok(after <= (REFRESH_SECONDS + 3) * 1000, `switched ${after} ms after rotation (TTL ${REFRESH_SECONDS} s)`);

  const bad = await send(`${stack.endpoints.FUNCTION_URL}/digest/check`, { body, headers: { 'x-digest': hmac(oldKey, body) } });
  t.equal(bad.status, 401, 'the old key no longer verifies');
  const good = await send(`${stack.endpoints.FUNCTION_URL}/digest/check`, { body, headers: { 'x-digest': hmac(newKey, body) } });
  t.equal(good.status, 200, 'the new key verifies');
});
