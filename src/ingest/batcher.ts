// The batcher proper: collects admitted readings into batches for the sink. A batch leaves when it
// is full, or at once when no write is in flight (an idle pipeline does not linger), or when its
// oldest reading has waited `lingerMs` (a busy one fills its batches meanwhile) — as long as the
// adaptive concurrency limit has room. Readings with the same (deviceId, ts) inside one batch are
// merged, last one wins. Bounds and backpressure are the admission gate's (admission.ts), per-message
// accounting the ticket book's (tickets.ts); the store is only a ReadingSink (sink.ts).
import type { Registry } from 'prom-client';
import { IngestError } from '../errors.ts';
import { observeFast } from '../metrics/fast-observe.ts';
import type { BatcherMetrics } from './batcher-metrics.ts';
import { AdmissionGate } from './admission.ts';
import { AimdLimit, registerConcurrencyMetrics } from './concurrency.ts';
import type { Reading } from './reading.ts';
import type { ReadingSink, WriteResult } from './sink.ts';
import { NONE_STORED, ONE_REJECTED, ONE_STORED, Ticket, promisedOutcome, storeFailure } from './tickets.ts';
import type { MessageOrigin, StoreOutcome, TicketListener } from './tickets.ts';

export type { MessageOrigin, StoreOutcome, TicketListener } from './tickets.ts';

export interface BatcherOptions {
  readonly batchSize: number;
  readonly lingerMs: number;
  /** Most batches in flight; the adaptive limit moves between writeConcurrencyMin and this. */
  readonly writeConcurrency: number;
  readonly writeConcurrencyMin?: number;
  /** Send a partial batch at once when no write is in flight (default false: always linger). */
  readonly adaptiveFlush?: boolean;
  readonly maxQueuedReadings: number;
  readonly maxQueuedBytes: number;
  readonly maxHoldMs: number;
}

export interface Submission {
  /** Settles once every reading of the message is stored (or rejected by the store). */
  readonly stored: Promise<StoreOutcome>;
}

export type RejectedHandler = (reading: Reading, message: string, origin: MessageOrigin | undefined) => Promise<void>;

/**
 * One queued reading, and how it reports back to its message: through the message's ticket when it
 * has several readings, else to the message's listener directly (no ticket object for the message
 * of one reading, which most are; thousands of these are held at once under load).
 */
class Entry {
  constructor(
    readonly reading: Reading,
    readonly origin: MessageOrigin | undefined,
    private readonly owner: Ticket | TicketListener,
    readonly enqueuedAt: number,
  ) {}

  markStored(): void {
    const owner = this.owner;
    if (owner instanceof Ticket) owner.markStored();
    else owner.settled(undefined, ONE_STORED);
  }

  markRejected(): void {
    const owner = this.owner;
    if (owner instanceof Ticket) owner.markRejected();
    else owner.settled(undefined, ONE_REJECTED);
  }

  markFailed(cause: Error | undefined): void {
    const owner = this.owner;
    if (owner instanceof Ticket) owner.markFailed(cause);
    else owner.settled(storeFailure(cause), NONE_STORED);
  }
}

/** One request's worth: an entry per item, and the older entries duplicates merged into an item. */
interface Batch {
  readonly items: Entry[];
  readonly merged: readonly { readonly entry: Entry; readonly item: number }[] | undefined;
  /** When its oldest entry was queued. */
  readonly enqueuedAt: number;
}

/** The entries item `i` of a batch settles: those it superseded (oldest first), then its own. */
function entriesOf(batch: Batch, i: number): Entry[] {
  const own = batch.items[i];
  if (own === undefined) return [];
  const out: Entry[] = [];
  if (batch.merged !== undefined) for (const m of batch.merged) if (m.item === i) out.push(m.entry);
  out.push(own);
  return out;
}

export class Batcher {
  private queue: Entry[] = [];
  private head = 0;
  private readonly gate: AdmissionGate;
  readonly concurrency: AimdLimit;
  private readonly inflightOldest = new Set<{ enqueuedAt: number }>();
  private timer: NodeJS.Timeout | undefined;
  private draining = false;
  private closed = false;

  constructor(
    private readonly options: BatcherOptions,
    private readonly sink: ReadingSink,
    private readonly metrics: BatcherMetrics & { readonly registry: Registry },
    private readonly onRejected: RejectedHandler,
  ) {
    this.gate = new AdmissionGate(options, () => metrics.backpressureWaitsTotal.inc());
    this.concurrency = new AimdLimit({ min: Math.min(options.writeConcurrencyMin ?? 1, options.writeConcurrency), max: options.writeConcurrency });
    registerConcurrencyMetrics(metrics.registry, this.concurrency);
    metrics.bindQueueState(() => this.stats());
    metrics.queueCapacityReadings.set(options.maxQueuedReadings);
    metrics.queueCapacityBytes.set(options.maxQueuedBytes);
  }

  /**
   * Queues the readings of one message. Resolves once they are in the queue (after waiting for
   * space if need be); the returned `stored` promise settles when the sink has them. The promise
   * form of `submitWhenRoom`.
   */
  submit(readings: Reading[], origin?: MessageOrigin): Promise<Submission> {
    const { listener, stored } = promisedOutcome();
    return this.submitWhenRoom(readings, origin, listener).then(() => ({ stored }));
  }

  /**
   * Queues the readings of one message whose sender listens on its own (no promise per message):
   * true when they are queued now. False when the message must wait for space or the batcher is
   * closed: then `submitWhenRoom` waits or refuses it.
   */
  offer(readings: Reading[], origin: MessageOrigin | undefined, listener: TicketListener): boolean {
    if (this.closed) return false;
    if (readings.length === 0) {
      listener.settled(undefined, { stored: 0, rejected: 0 });
      return true;
    }
    let bytes = 0;
    for (const r of readings) bytes += r.sizeBytes;
    if (!this.gate.tryEnter(readings.length, bytes)) return false;
    this.enqueue(readings, origin, listener);
    return true;
  }

  /** `offer` after waiting for space; rejects (SHUTTING_DOWN, or the gate's hold bound) instead of queueing. */
  submitWhenRoom(readings: Reading[], origin: MessageOrigin | undefined, listener: TicketListener): Promise<void> {
    if (this.offer(readings, origin, listener)) return Promise.resolve();
    return this.waitForRoom(readings).then(() => {
      this.enqueue(readings, origin, listener);
    });
  }

  private waitForRoom(readings: Reading[]): Promise<void> {
    if (this.closed) return Promise.reject(new IngestError('SHUTTING_DOWN', 'the service is shutting down', { retriable: true }));
    let bytes = 0;
    for (const r of readings) bytes += r.sizeBytes;
    return this.gate.enter(readings.length, bytes);
  }

  /** Point-in-time figures for the gauges, read at scrape time. */
  stats(now = Date.now()): { queuedReadings: number; outstandingReadings: number; outstandingBytes: number; oldestAgeMs: number; inflight: number; waiting: number; concurrencyLimit: number } {
    let oldest = this.queue[this.head]?.enqueuedAt ?? Infinity;
    for (const b of this.inflightOldest) oldest = Math.min(oldest, b.enqueuedAt);
    return {
      queuedReadings: this.queue.length - this.head,
      outstandingReadings: this.gate.outstandingReadings,
      outstandingBytes: this.gate.outstandingBytes,
      oldestAgeMs: oldest === Infinity ? 0 : Math.max(0, now - oldest),
      inflight: this.concurrency.active,
      waiting: this.gate.waiting,
      concurrencyLimit: this.concurrency.limit,
    };
  }

  /** Sends everything queued without waiting for linger, refuses new messages, and resolves when all is written. */
  async drain(): Promise<void> {
    this.closed = true;
    this.draining = true;
    this.gate.refuseWaiting(new IngestError('SHUTTING_DOWN', 'the service is shutting down', { retriable: true }));
    this.pump();
    await this.gate.whenEmpty();
    await this.sink.forceFlush();
  }

  private enqueue(readings: Reading[], origin: MessageOrigin | undefined, listener: TicketListener): void {
    const owner = readings.length === 1 ? listener : new Ticket(readings.length, listener);
    const now = Date.now();
    for (const reading of readings) this.queue.push(new Entry(reading, origin, owner, now));
    this.metrics.countReceived(readings.length);
    this.pump();
  }

  private pump(): void {
    const { batchSize, lingerMs } = this.options;
    while (this.head < this.queue.length && this.concurrency.hasRoom) {
      const queued = this.queue.length - this.head;
      // Idle pipeline: nothing in flight, so nothing to fill up for — send now.
      if (queued < batchSize && !this.draining && (this.concurrency.active > 0 || this.options.adaptiveFlush !== true)) {
        const waitMs = (this.queue[this.head] as Entry).enqueuedAt + lingerMs - Date.now();
        if (waitMs > 0) {
          this.timer ??= setTimeout(() => {
            this.timer = undefined;
            this.pump();
          }, waitMs).unref();
          return;
        }
      }
      this.send(this.takeBatch());
    }
    this.compact();
  }

  /** Takes up to batchSize distinct keys from the head of the queue; duplicates merge into one item. */
  private takeBatch(): Batch {
    // A batch holds at most 25 items: a duplicate (deviceId, ts) is found by scanning them (ts
    // first), with no map and no key string per reading.
    const enqueuedAt = (this.queue[this.head] as Entry).enqueuedAt;
    const items: Entry[] = [];
    let merged: { readonly entry: Entry; readonly item: number }[] | undefined;
    while (this.head < this.queue.length) {
      const entry = this.queue[this.head] as Entry;
      const { deviceId, ts } = entry.reading;
      let same = -1;
      for (let i = 0; i < items.length; i++) {
        const r = (items[i] as Entry).reading;
        if (r.ts === ts && r.deviceId === deviceId) {
          same = i;
          break;
        }
      }
      if (same >= 0) {
        // Last one wins: the item becomes the newer entry's reading; the older one settles with it.
        (merged ??= []).push({ entry: items[same] as Entry, item: same });
        items[same] = entry;
      } else {
        if (items.length >= this.options.batchSize) break;
        items.push(entry);
      }
      this.queue[this.head++] = undefined as unknown as Entry;
    }
    if (merged !== undefined) this.metrics.duplicateReadingsTotal.inc(merged.length);
    return { items, merged, enqueuedAt };
  }

  private send(batch: Batch): void {
    const marker = { enqueuedAt: batch.enqueuedAt };
    this.inflightOldest.add(marker);
    this.concurrency.active++;
    const readings = batch.items.map((e) => e.reading);
    this.sink
      .write(readings)
      .catch((err: unknown): WriteResult => ({ stored: [], rejected: [], failed: readings, failure: err as Error }))
      .then((result) => {
        this.concurrency.active--;
        this.concurrency.record(result.pushedBack === true);
        this.inflightOldest.delete(marker);
        this.complete(batch, readings, result);
        this.pump();
      });
  }

  private complete(batch: Batch, readings: Reading[], result: WriteResult): void {
    const now = Date.now();
    // Index in the batch of a reading of the result: the sink mostly answers in the batch's order
    // (then `hint` is it), otherwise it is looked up among at most batchSize readings.
    const itemOf = (r: Reading, hint: number): number => (readings[hint] === r ? hint : readings.indexOf(r));
    const m = this.metrics;
    let entries = 0;
    let bytes = 0;
    // Every entry settled gives its room in the queue back.
    const leave = (e: Entry): void => {
      entries++;
      bytes += e.reading.sizeBytes;
    };
    const stored = (e: Entry): void => {
      e.markStored();
      leave(e);
    };
    for (let i = 0; i < result.stored.length; i++) {
      const r = result.stored[i] as Reading;
      observeFast(m.receiveToStoreSeconds, (now - r.receivedAt) / 1000);
      observeFast(m.deviceToStoreSeconds, Math.max(0, now - r.ts) / 1000);
      const item = itemOf(r, i);
      // The entries the item superseded (oldest first), then its own: as entriesOf, without an
      // array per reading on this path.
      if (batch.merged !== undefined) for (const d of batch.merged) if (d.item === item) stored(d.entry);
      const own = batch.items[item];
      if (own !== undefined) stored(own);
    }
    m.readingsStoredTotal.inc(result.stored.length);
    for (const { reading, reason } of result.rejected) {
      const slot = entriesOf(batch, itemOf(reading, -1));
      // The handler is expected never to fail; if it does, the message still settles.
      void Promise.resolve()
        .then(() => this.onRejected(reading, reason, slot[slot.length - 1]?.origin))
        .catch(() => undefined)
        .finally(() => {
          for (const e of slot) e.markRejected();
        });
      for (const e of slot) leave(e);
    }
    for (const r of result.failed) {
      for (const e of entriesOf(batch, itemOf(r, -1))) {
        e.markFailed(result.failure);
        leave(e);
      }
    }
    this.gate.release(entries, bytes);
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
