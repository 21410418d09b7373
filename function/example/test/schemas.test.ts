import t from 'tap';
import { checkRouteSchemas } from 'knative-fn/testing';
import * as example from '../index.ts';

t.test("every route schema of the example is valid JSON Schema (start-up skips this check)", async (t) => {
  const { checked, invalid } = await checkRouteSchemas(example);
  t.ok(checked >= 8, `checked ${checked} schemas`);
  t.same(invalid, []);
});
