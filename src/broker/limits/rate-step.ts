// The publish hook's rate step: asks the device's token buckets, and either goes on at once, goes on
// after the wait its tokens need (the PUBLISH is held: backpressure), or refuses the message, which
// closes the connection unacknowledged (the device resends after reconnecting, slower).
import { IngestError } from '../../errors.ts';
import type { DeviceRateLimiter } from './device-rate.ts';
import type { LimitMetrics } from './limit-metrics.ts';

/** The message waiting on the rate step (an object, not two closures: this runs for every message). */
export interface RateWaiter {
  proceed(): void;
  refuse(err: Error): void;
}

export type RateStep = (deviceId: string, readings: number, waiter: RateWaiter) => void;

export function createRateStep(limiter: DeviceRateLimiter, metrics: LimitMetrics): RateStep {
  return (deviceId, readings, waiter) => {
    const decision = limiter.admit(deviceId, readings);
    if (decision.action === 'pass') return waiter.proceed();
    metrics.limitHits.inc({ limit: decision.limit });
    if (decision.action === 'refuse') {
      metrics.limitHits.inc({ limit: 'rate_hold' });
      return waiter.refuse(new IngestError('RATE_LIMITED', `device ${deviceId} is over its ${decision.limit === 'message_rate' ? 'message' : 'reading'} rate for longer than the hold bound`));
    }
    metrics.rateHeldPublishes.inc();
    setTimeout(() => {
      metrics.rateHeldPublishes.dec();
      waiter.proceed();
    }, decision.waitMs);
  };
}
