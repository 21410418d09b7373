/**
 * make bench's noise rule and load monitor (scripts/bench/lib/machine.ts): a ratio is printed only when both
 * variants' repeated measurements agree within the stated bound, and the machine's load is sampled over the run.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { cv, noisyRatio, startLoadMonitor } from '../bench/lib/machine.ts';

t.test('coefficient of variation of repeated measurements', async (t) => {
  t.equal(cv([10, 10, 10]), 0, 'identical rounds: no noise');
  t.ok(Math.abs(cv([9, 11]) - Math.SQRT2 / 10) < 1e-9, 'sample standard deviation over the mean');
  t.ok(Number.isNaN(cv([10])), 'one measurement has no spread to tell');
});

t.test('a ratio is withheld when either variant is noisier than the bound, with the reason', async (t) => {
  t.same(noisyRatio(25_000, 50_000, 0.05, 0.08, 0.15), { ratio: 0.5 }, 'both within the bound: the ratio');
  t.same(noisyRatio(25_000, 50_000, 0.15, 0.15, 0.15), { ratio: 0.5 }, 'at the bound: still printed');
  t.same(noisyRatio(25_000, 50_000, 0.2, 0.01, 0.15), { ratio: null, withheld: 'CV 20 % > 15 %' }, 'the function noisy');
  t.same(noisyRatio(25_000, 50_000, 0.01, 0.31, 0.15), { ratio: null, withheld: 'CV 31 % > 15 %' }, 'the baseline noisy');
  t.same(noisyRatio(25_000, 50_000, NaN, 0.01, 0.15), { ratio: null, withheld: 'fewer than two measurements' });
});

t.test('the load monitor charges CPU of the benchmark\'s own processes to it, not to "other processes"', async (t) => {
  const monitor = startLoadMonitor(250);
  const burner = spawn(process.execPath, ['-e', 'const end = Date.now() + 1500; while (Date.now() < end);']);
  await new Promise((r) => burner.once('exit', r));
  const samples = monitor.samples.slice(1, -1); // whole intervals while the child burned a core
  const summary = monitor.stop();
  t.ok(summary.samples >= 4, `${summary.samples} samples`);
  t.ok(summary.loadAverage1m.max >= 0 && summary.cores >= 1, 'load average and cores recorded');
  // The child is busy a whole core (less if the machine is loaded): busy minus other is what this tree used.
  const own = samples.map((s) => s.busyCores - s.otherCores);
  t.ok(Math.max(...own) > 0.3, `this process tree's CPU is seen (max ${Math.max(...own).toFixed(2)} cores)`);
  for (const s of samples) t.ok(s.otherCores <= s.busyCores + 0.01, 'other processes never exceed the busy CPUs');
});
