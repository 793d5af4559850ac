// observeFast against prom-client's own observe: the same values on two histograms with the same
// buckets give the same exposition (buckets, sum, count), including values on bucket bounds,
// beyond the last bound, zero and negatives, and after a reset().
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { observeFast } from '../../src/metrics/fast-observe.ts';
import { mulberry32 } from '../../simulator/prng.ts';

const BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

async function exposition(h: Histogram, name: string): Promise<string> {
  const r = new Registry();
  r.registerMetric(h);
  return (await r.metrics()).replaceAll(name, 'x');
}

describe('observeFast', () => {
  it('gives the same series as prom-client observe()', async () => {
    const fast = new Histogram({ name: 'fast', help: 'h', buckets: BUCKETS, registers: [] });
    const plain = new Histogram({ name: 'plain', help: 'h', buckets: BUCKETS, registers: [] });
    const rand = mulberry32(7);
    const values = [0, -1, 0.001, 0.005, 5, 6, 1e9, ...Array.from({ length: 5000 }, () => rand() * 2)];
    for (const v of values) {
      observeFast(fast, v);
      plain.observe(v);
    }
    const text = await exposition(fast, 'fast');
    expect(text).toBe(await exposition(plain, 'plain'));
    expect(text).toContain(`x_count ${values.length}`);
    fast.reset();
    plain.reset();
    for (const v of [0.2, 3, 0.0001]) {
      observeFast(fast, v);
      plain.observe(v);
    }
    expect(await exposition(fast, 'fast')).toBe(await exposition(plain, 'plain'));
    expect(await exposition(fast, 'fast')).toContain('x_count 3');
  });
});
