// Collects readings into BatchWriteItem-sized batches: a batch leaves when it is full or when its
// oldest reading has waited `lingerMs`, as long as a writer slot is free (p-limit bounds how many
// are in flight; while all are busy, batches keep filling). Readings with the same (deviceId, ts)
// inside one batch are merged, last one wins. The queue is bounded in readings and bytes; a
// message that does not fit waits for space (the device is held: backpressure), and only after
// `maxHoldMs` is it refused, unacknowledged, so the device resends later. Nothing is dropped.
import pLimit from 'p-limit';
import type { LimitFunction } from 'p-limit';
import { IngestError } from '../errors.ts';
import type { Metrics } from '../metrics/registry.ts';
import { readingKey } from '../storage/item.ts';
import type { Reading } from './reading.ts';
import type { BatchWriter, WriteResult } from './writer.ts';

export interface BatcherOptions {
  readonly batchSize: number;
  readonly lingerMs: number;
  readonly writeConcurrency: number;
  readonly maxQueuedReadings: number;
  readonly maxQueuedBytes: number;
  readonly maxHoldMs: number;
}

export interface StoreOutcome {
  readonly stored: number;
  /** Readings DynamoDB refused on their own; already handed to `onRejected`. */
  readonly rejected: number;
}

export interface Submission {
  /** Settles once every reading of the message is stored (or rejected by the store). */
  readonly stored: Promise<StoreOutcome>;
}

/** Where a message came from; handed back with readings the store rejects (for the dead-letter). */
export interface MessageOrigin {
  readonly clientId: string | null;
  readonly qos: number;
}

export type RejectedHandler = (reading: Reading, message: string, origin: MessageOrigin | undefined) => Promise<void>;

interface Ticket {
  readonly origin: MessageOrigin | undefined;
  remaining: number;
  stored: number;
  rejected: number;
  failure?: Error;
  resolve(outcome: StoreOutcome): void;
  reject(err: Error): void;
}

interface Entry {
  reading: Reading;
  ticket: Ticket;
  enqueuedAt: number;
}

interface Waiter {
  readonly readings: Reading[];
  readonly origin: MessageOrigin | undefined;
  readonly bytes: number;
  readonly resolve: (s: Submission) => void;
  readonly reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

export class Batcher {
  private queue: Entry[] = [];
  private head = 0;
  /** Readings accepted and not yet stored: queued or in a request. */
  private outstandingReadings = 0;
  private outstandingBytes = 0;
  private readonly waiters: Waiter[] = [];
  private readonly inflightOldest = new Set<{ enqueuedAt: number }>();
  private readonly limit: LimitFunction;
  private timer: NodeJS.Timeout | undefined;
  private draining = false;
  private closed = false;
  private idleResolvers: (() => void)[] = [];

  constructor(
    private readonly options: BatcherOptions,
    private readonly writer: Pick<BatchWriter, 'write'>,
    private readonly metrics: Metrics,
    private readonly onRejected: RejectedHandler,
  ) {
    this.limit = pLimit(options.writeConcurrency);
    metrics.queueCapacityReadings.set(options.maxQueuedReadings);
    metrics.queueCapacityBytes.set(options.maxQueuedBytes);
  }

  /**
   * Queues the readings of one message. Resolves once they are in the queue (after waiting for
   * space if need be); the returned `stored` promise settles when they are in DynamoDB.
   */
  submit(readings: Reading[], origin?: MessageOrigin): Promise<Submission> {
    if (this.closed) return Promise.reject(new IngestError('SHUTTING_DOWN', 'the service is shutting down', { retriable: true }));
    if (readings.length === 0) return Promise.resolve({ stored: Promise.resolve({ stored: 0, rejected: 0 }) });
    let bytes = 0;
    for (const r of readings) bytes += r.sizeBytes;
    if (this.waiters.length === 0 && this.fits(readings.length, bytes)) {
      return Promise.resolve(this.admit(readings, bytes, origin));
    }
    this.metrics.backpressureWaitsTotal.inc();
    return new Promise<Submission>((resolve, reject) => {
      const waiter: Waiter = { readings, origin, bytes, resolve, reject };
      waiter.timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new IngestError('QUEUE_FULL', `no queue space within ${this.options.maxHoldMs} ms`, { retriable: true }));
        // A smaller message behind the one that gave up may fit now.
        if (i === 0) this.admitWaiters();
      }, this.options.maxHoldMs);
      this.waiters.push(waiter);
    });
  }

  /** Point-in-time figures for the gauges, read at scrape time. */
  stats(now = Date.now()): { queuedReadings: number; outstandingReadings: number; outstandingBytes: number; oldestAgeMs: number; inflight: number; waiting: number } {
    let oldest = this.queue[this.head]?.enqueuedAt ?? Infinity;
    for (const b of this.inflightOldest) oldest = Math.min(oldest, b.enqueuedAt);
    return {
      queuedReadings: this.queue.length - this.head,
      outstandingReadings: this.outstandingReadings,
      outstandingBytes: this.outstandingBytes,
      oldestAgeMs: oldest === Infinity ? 0 : Math.max(0, now - oldest),
      inflight: this.limit.activeCount + this.limit.pendingCount,
      waiting: this.waiters.length,
    };
  }

  /** Sends everything queued without waiting for linger, refuses new messages, and resolves when all is written. */
  async drain(): Promise<void> {
    this.closed = true;
    this.draining = true;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new IngestError('SHUTTING_DOWN', 'the service is shutting down', { retriable: true }));
    }
    this.pump();
    if (this.outstandingReadings === 0) return;
    await new Promise<void>((resolve) => this.idleResolvers.push(resolve));
  }

  private fits(readings: number, bytes: number): boolean {
    // A message alone larger than the queue is admitted into an empty queue, so it cannot wait forever.
    if (this.outstandingReadings === 0) return true;
    return (
      this.outstandingReadings + readings <= this.options.maxQueuedReadings &&
      this.outstandingBytes + bytes <= this.options.maxQueuedBytes
    );
  }

  private admit(readings: Reading[], bytes: number, origin: MessageOrigin | undefined): Submission {
    let ticket!: Ticket;
    const stored = new Promise<StoreOutcome>((resolve, reject) => {
      ticket = { origin, remaining: readings.length, stored: 0, rejected: 0, resolve, reject };
    });
    const now = Date.now();
    for (const reading of readings) this.queue.push({ reading, ticket, enqueuedAt: now });
    this.outstandingReadings += readings.length;
    this.outstandingBytes += bytes;
    this.metrics.readingsReceivedTotal.inc(readings.length);
    this.pump();
    return { stored };
  }

  private pump(): void {
    const { batchSize, lingerMs, writeConcurrency } = this.options;
    while (this.head < this.queue.length && this.limit.activeCount < writeConcurrency) {
      const queued = this.queue.length - this.head;
      const oldest = (this.queue[this.head] as Entry).enqueuedAt;
      const waitMs = oldest + lingerMs - Date.now();
      if (queued < batchSize && waitMs > 0 && !this.draining) {
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, waitMs).unref();
        return;
      }
      this.send(this.takeBatch());
    }
    this.compact();
  }

  /** Takes up to batchSize distinct keys from the head of the queue; duplicates merge into one item. */
  private takeBatch(): Entry[][] {
    const slots = new Map<string, Entry[]>();
    while (this.head < this.queue.length) {
      const entry = this.queue[this.head] as Entry;
      const key = readingKey(entry.reading.deviceId, entry.reading.ts);
      const slot = slots.get(key);
      if (slot) {
        slot.push(entry); // last one wins: the slot's item is its last entry's reading
        this.metrics.duplicateReadingsTotal.inc();
      } else {
        if (slots.size >= this.options.batchSize) break;
        slots.set(key, [entry]);
      }
      this.queue[this.head++] = undefined as unknown as Entry;
    }
    return [...slots.values()];
  }

  private send(slots: Entry[][]): void {
    const marker = { enqueuedAt: (slots[0] as Entry[])[0]?.enqueuedAt ?? Date.now() };
    this.inflightOldest.add(marker);
    const readings = slots.map((s) => (s[s.length - 1] as Entry).reading);
    void this.limit(() => this.writer.write(readings))
      .then(
        (result) => this.complete(slots, readings, result),
        (err: unknown) => this.complete(slots, readings, { stored: [], rejected: [], failed: readings, failure: err as Error }),
      )
      .finally(() => {
        this.inflightOldest.delete(marker);
        this.pump();
      });
  }

  private complete(slots: Entry[][], readings: Reading[], result: WriteResult): void {
    const now = Date.now();
    const bySlot = new Map<Reading, Entry[]>();
    readings.forEach((r, i) => bySlot.set(r, slots[i] as Entry[]));
    const m = this.metrics;
    let entries = 0;
    let bytes = 0;
    for (const r of result.stored) {
      m.receiveToStoreSeconds.observe((now - r.receivedAt) / 1000);
      m.deviceToStoreSeconds.observe(Math.max(0, now - r.ts) / 1000);
      for (const e of bySlot.get(r) ?? []) {
        e.ticket.stored++;
        settleOne(e.ticket);
        entries++;
        bytes += e.reading.sizeBytes;
      }
    }
    m.readingsStoredTotal.inc(result.stored.length);
    for (const { reading, message } of result.rejected) {
      const slot = bySlot.get(reading) ?? [];
      // The handler is expected never to fail; if it does, the message still settles.
      void Promise.resolve()
        .then(() => this.onRejected(reading, message, slot[slot.length - 1]?.ticket.origin))
        .catch(() => undefined)
        .finally(() => {
          for (const e of slot) {
            e.ticket.rejected++;
            settleOne(e.ticket);
          }
        });
      for (const e of slot) {
        entries++;
        bytes += e.reading.sizeBytes;
      }
    }
    for (const r of result.failed) {
      for (const e of bySlot.get(r) ?? []) {
        e.ticket.failure ??= new IngestError('STORE_FAILED', `reading not stored: ${result.failure?.message ?? 'unknown error'}`, { cause: result.failure, retriable: true });
        settleOne(e.ticket);
        entries++;
        bytes += e.reading.sizeBytes;
      }
    }
    this.release(entries, bytes);
  }

  private release(readings: number, bytes: number): void {
    this.outstandingReadings -= readings;
    this.outstandingBytes -= bytes;
    this.admitWaiters();
    if (this.outstandingReadings === 0) {
      for (const resolve of this.idleResolvers.splice(0)) resolve();
    }
  }

  /** Admits waiting messages in arrival order while they fit. */
  private admitWaiters(): void {
    while (this.waiters.length > 0) {
      const w = this.waiters[0] as Waiter;
      if (!this.fits(w.readings.length, w.bytes)) break;
      this.waiters.shift();
      clearTimeout(w.timer);
      w.resolve(this.admit(w.readings, w.bytes, w.origin));
    }
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    } else if (this.head === this.queue.length && this.head > 0) {
      this.queue = [];
      this.head = 0;
    }
  }
}

function settleOne(ticket: Ticket): void {
  if (--ticket.remaining > 0) return;
  if (ticket.failure) ticket.reject(ticket.failure);
  else ticket.resolve({ stored: ticket.stored, rejected: ticket.rejected });
}
