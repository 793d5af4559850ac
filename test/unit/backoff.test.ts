// computeBackoffMs: exponential backoff with full jitter, capped, no overflow.
import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, computeBackoffMs } from '../../src/ingest/backoff.ts';

const ALMOST_ONE = 1 - Number.EPSILON;

describe('computeBackoffMs', () => {
  it('random = 0 always gives 0 (full jitter starts at zero)', () => {
    for (let attempt = 0; attempt < 100; attempt++) expect(computeBackoffMs(attempt, DEFAULT_BACKOFF, () => 0)).toBe(0);
  });

  it('random -> 1 gives just under min(cap, base * 2^attempt)', () => {
    const { baseMs, capMs } = DEFAULT_BACKOFF;
    for (let attempt = 0; attempt < 100; attempt++) {
      const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
      const delay = computeBackoffMs(attempt, DEFAULT_BACKOFF, () => ALMOST_ONE);
      expect(delay).toBeLessThan(ceiling);
      expect(delay).toBeGreaterThanOrEqual(ceiling - 1);
    }
  });

  it('worked numbers from the doc comment: 25 ms, 200 ms, 1.6 s, then the 2 s cap', () => {
    const max = (attempt: number): number => computeBackoffMs(attempt, DEFAULT_BACKOFF, () => ALMOST_ONE) + 1;
    expect([max(0), max(1), max(3), max(6), max(7), max(50)]).toEqual([25, 50, 200, 1600, 2000, 2000]);
  });

  it('random = 0.5 is half the ceiling', () => {
    expect(computeBackoffMs(2, { baseMs: 10, capMs: 1000 }, () => 0.5)).toBe(20);
  });

  it('is an integer within [0, cap) for any attempt and random', () => {
    let seed = 7;
    const rand = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const policy = { baseMs: 3, capMs: 777 };
    for (let attempt = 0; attempt < 500; attempt++) {
      const delay = computeBackoffMs(attempt, policy, rand);
      expect(Number.isInteger(delay)).toBe(true);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(policy.capMs);
    }
  });

  it('huge attempt numbers do not overflow to Infinity or NaN', () => {
    for (const attempt of [31, 1_000, 1e6, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, Infinity]) {
      const delay = computeBackoffMs(attempt, DEFAULT_BACKOFF, () => ALMOST_ONE);
      expect(Number.isFinite(delay)).toBe(true);
      expect(delay).toBe(DEFAULT_BACKOFF.capMs - 1);
    }
    // Even with a huge base the cap holds.
    expect(computeBackoffMs(10_000, { baseMs: 1e300, capMs: 5_000 }, () => ALMOST_ONE)).toBe(4_999);
  });

  it('uses Math.random by default and stays in bounds', () => {
    for (let i = 0; i < 200; i++) {
      const d = computeBackoffMs(4);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(400);
    }
  });
});
