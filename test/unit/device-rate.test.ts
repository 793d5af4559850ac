// Token buckets per device: a burst of one second passes, then publishes wait exactly as long as
// their tokens need, past the hold bound they are refused (taking nothing), and idle devices are
// forgotten. Time is injected.
import { describe, expect, it } from 'vitest';
import { DeviceRateLimiter } from '../../src/broker/limits/device-rate.ts';

function limiter(now: { t: number }): DeviceRateLimiter {
  return new DeviceRateLimiter({ maxMessagesPerSecond: 10, maxReadingsPerSecond: 100, maxRateHoldMs: 1_000 }, () => now.t);
}

describe('DeviceRateLimiter', () => {
  it('passes a burst of one second, then asks for waits of 1/rate each, then refuses past the hold bound', () => {
    const now = { t: 0 };
    const l = limiter(now);
    for (let i = 0; i < 10; i++) expect(l.admit('d', 1)).toEqual({ action: 'pass' });
    for (let i = 1; i <= 10; i++) expect(l.admit('d', 1)).toEqual({ action: 'wait', waitMs: i * 100, limit: 'message_rate' });
    expect(l.admit('d', 1)).toEqual({ action: 'refuse', limit: 'message_rate' });
    // A refusal took nothing: after 100 ms, the next one waits 1,000 ms again.
    now.t = 100;
    expect(l.admit('d', 1)).toEqual({ action: 'wait', waitMs: 1_000, limit: 'message_rate' });
  });

  it('limits readings per second on their own, and keeps devices apart', () => {
    const now = { t: 0 };
    const l = limiter(now);
    expect(l.admit('a', 100)).toEqual({ action: 'pass' });
    expect(l.admit('a', 50)).toEqual({ action: 'wait', waitMs: 500, limit: 'reading_rate' });
    expect(l.admit('a', 60)).toEqual({ action: 'refuse', limit: 'reading_rate' });
    expect(l.admit('b', 100)).toEqual({ action: 'pass' });
  });

  it('refills over time and forgets idle devices', () => {
    const now = { t: 0 };
    const l = limiter(now);
    for (let i = 0; i < 10; i++) l.admit('d', 1);
    now.t = 500;
    for (let i = 0; i < 5; i++) expect(l.admit('d', 1)).toEqual({ action: 'pass' });
    expect(l.trackedDevices).toBe(1);
    now.t = 1_400;
    l.sweep();
    expect(l.trackedDevices).toBe(1); // not a full second since its last use
    now.t = 1_600;
    l.sweep();
    expect(l.trackedDevices).toBe(0);
  });
});
