// Messages and readings per second per device: two token buckets per device (rate r, burst r,
// i.e. one second's worth). A publish over the rate is not refused: it waits until its tokens are
// there (backpressure: aedes reads nothing more from that socket meanwhile). A publish that would
// wait longer than the hold bound closes the connection instead, so a device cannot park an
// unbounded backlog in the broker. The publish hook calls `admit` as one step of its path.
import type { LimitName } from './limit-metrics.ts';

export interface DeviceRateLimits {
  readonly maxMessagesPerSecond: number;
  readonly maxReadingsPerSecond: number;
  readonly maxRateHoldMs: number;
}

export type RateDecision =
  | { readonly action: 'pass' }
  | { readonly action: 'wait'; readonly waitMs: number; readonly limit: LimitName }
  | { readonly action: 'refuse'; readonly limit: LimitName };

interface Buckets {
  messages: number;
  readings: number;
  refilledAtMs: number;
}

const PASS: RateDecision = { action: 'pass' };

export class DeviceRateLimiter {
  private readonly buckets = new Map<string, Buckets>();

  constructor(
    private readonly limits: DeviceRateLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Devices with a bucket right now (those seen within about the last second of refill). */
  get trackedDevices(): number {
    return this.buckets.size;
  }

  /**
   * Takes one message and `readings` readings from `deviceId`'s buckets. The tokens are taken even
   * when the caller must wait (they are the wait's debt); a refusal takes nothing.
   */
  admit(deviceId: string, readings: number): RateDecision {
    const { maxMessagesPerSecond: msgRate, maxReadingsPerSecond: readingRate } = this.limits;
    const now = this.now();
    let b = this.buckets.get(deviceId);
    if (b === undefined) {
      b = { messages: msgRate, readings: readingRate, refilledAtMs: now };
      this.buckets.set(deviceId, b);
    } else {
      const elapsedS = Math.max(0, now - b.refilledAtMs) / 1000;
      b.messages = Math.min(msgRate, b.messages + elapsedS * msgRate);
      b.readings = Math.min(readingRate, b.readings + elapsedS * readingRate);
      b.refilledAtMs = now;
    }
    const messages = b.messages - 1;
    const readingsLeft = b.readings - readings;
    const messageWaitMs = messages < 0 ? (-messages / msgRate) * 1000 : 0;
    const readingWaitMs = readingsLeft < 0 ? (-readingsLeft / readingRate) * 1000 : 0;
    const waitMs = Math.max(messageWaitMs, readingWaitMs);
    const limit: LimitName = messageWaitMs >= readingWaitMs ? 'message_rate' : 'reading_rate';
    if (waitMs > this.limits.maxRateHoldMs) return { action: 'refuse', limit };
    b.messages = messages;
    b.readings = readingsLeft;
    return waitMs > 0 ? { action: 'wait', waitMs: Math.ceil(waitMs), limit } : PASS;
  }

  /** Forgets devices whose buckets are full again (idle): they would start full anyway. */
  sweep(): void {
    const now = this.now();
    for (const [id, b] of this.buckets) {
      if (now - b.refilledAtMs >= 1000 && b.messages >= 0 && b.readings >= 0) this.buckets.delete(id);
    }
  }
}
