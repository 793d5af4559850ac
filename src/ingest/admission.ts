// The admission gate in front of the batcher: readings accepted and not yet stored are bounded in
// count and bytes. A message that does not fit waits (its device is held: backpressure reaches the
// socket), in arrival order; after `maxHoldMs` it is refused with QUEUE_FULL (retriable), so the
// device resends later. A message alone larger than the bounds enters an empty gate, so nothing
// waits forever.
import { IngestError } from '../errors.ts';

export interface AdmissionLimits {
  readonly maxQueuedReadings: number;
  readonly maxQueuedBytes: number;
  readonly maxHoldMs: number;
}

interface Waiter {
  readonly readings: number;
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

export class AdmissionGate {
  /** Readings admitted and not yet released (queued or in a request). */
  outstandingReadings = 0;
  outstandingBytes = 0;
  private readonly waiters: Waiter[] = [];
  private idle: (() => void)[] = [];

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly onWait: () => void = () => undefined,
  ) {}

  get waiting(): number {
    return this.waiters.length;
  }

  /** Takes the space now if it is free and nobody waits ahead; false otherwise. */
  tryEnter(readings: number, bytes: number): boolean {
    if (this.waiters.length > 0 || !this.fits(readings, bytes)) return false;
    this.take(readings, bytes);
    return true;
  }

  /** Waits for the space (in arrival order); rejects with QUEUE_FULL after maxHoldMs. */
  enter(readings: number, bytes: number): Promise<void> {
    this.onWait();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { readings, bytes, resolve, reject };
      waiter.timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new IngestError('QUEUE_FULL', `no queue space within ${this.limits.maxHoldMs} ms`, { retriable: true }));
        // A smaller message behind the one that gave up may fit now.
        if (i === 0) this.admitWaiters();
      }, this.limits.maxHoldMs);
      this.waiters.push(waiter);
    });
  }

  release(readings: number, bytes: number): void {
    this.outstandingReadings -= readings;
    this.outstandingBytes -= bytes;
    this.admitWaiters();
    if (this.outstandingReadings === 0) for (const resolve of this.idle.splice(0)) resolve();
  }

  /** Refuses every waiting message (shutdown). */
  refuseWaiting(err: Error): void {
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  /** Resolves when nothing is outstanding. */
  whenEmpty(): Promise<void> {
    if (this.outstandingReadings === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private fits(readings: number, bytes: number): boolean {
    if (this.outstandingReadings === 0) return true;
    return this.outstandingReadings + readings <= this.limits.maxQueuedReadings && this.outstandingBytes + bytes <= this.limits.maxQueuedBytes;
  }

  private take(readings: number, bytes: number): void {
    this.outstandingReadings += readings;
    this.outstandingBytes += bytes;
  }

  private admitWaiters(): void {
    while (this.waiters.length > 0) {
      const w = this.waiters[0] as Waiter;
      if (!this.fits(w.readings, w.bytes)) break;
      this.waiters.shift();
      clearTimeout(w.timer);
      this.take(w.readings, w.bytes);
      w.resolve();
    }
  }
}
