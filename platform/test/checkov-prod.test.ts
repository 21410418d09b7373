// checkov on the prod root with its module instances (see checkov.ts).
import t from 'tap';
import { checkovClean } from './checkov.ts';

t.test('checkov: zero failed checks in platform/envs/prod', async (t) => {
  checkovClean(t, 'envs/prod');
});
