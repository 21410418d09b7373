// checkov on the modules and the state bootstrap (see checkov.ts).
import t from 'tap';
import { checkovClean } from './checkov.ts';

t.test('checkov: zero failed checks in platform/modules and platform/bootstrap', async (t) => {
  checkovClean(t, 'modules');
  checkovClean(t, 'bootstrap');
});
