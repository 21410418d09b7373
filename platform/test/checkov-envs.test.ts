// checkov on the environment roots, each with its module instances (see checkov.ts).
import t from 'tap';
import { checkovClean } from './checkov.ts';

t.test('checkov: zero failed checks in platform/envs/dev and platform/envs/prod', async (t) => {
  checkovClean(t, 'envs/dev');
  checkovClean(t, 'envs/prod');
});
