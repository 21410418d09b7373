// checkov on the dev root with its module instances (see checkov.ts).
import t from 'tap';
import { checkovClean } from './checkov.ts';

t.test('checkov: zero failed checks in platform/envs/dev', async (t) => {
  checkovClean(t, 'envs/dev');
});
