/** Builds the runtime around the example with in-memory peers (knative-fn/testing), closed at the end of the test. */
import type { Test } from 'tap';
import { build, type TestFunction } from 'knative-fn/testing';
import * as example from '../index.ts';

/** The signing key the tests give the example (as if read from Secrets Manager). */
export const KEY = 'k3y-for-the-example-tests-0123456789';

export async function buildExample(t: Test, secrets: Record<string, string> | undefined = { SIGNING_KEY: KEY }): Promise<TestFunction> {
  const fn = await build(example, { secrets, env: { K_SERVICE: 'example', K_REVISION: 'example-00001' } });
  t.teardown(() => fn.close());
  return fn;
}
