// Batcher + BatchWriter against an in-memory TelemetryStore (the storage seam): batching, dedupe,
// concurrency, backpressure, drain, UnprocessedItems, ValidationException narrowing, retry budget.
import { afterEach, describe, expect, it } from 'vitest';
import { IngestError } from '../../src/errors.ts';
import { Batcher } from '../../src/ingest/batcher.ts';
import type { BatcherOptions, StoreOutcome, Submission } from '../../src/ingest/batcher.ts';
import type { AttributeValue, Reading } from '../../src/ingest/reading.ts';
import { DynamoDbSink } from '../../src/storage/dynamodb/sink.ts';
import { transportFromStore } from '../../src/storage/dynamodb/transport.ts';
import { createMetrics } from '../../src/metrics/registry.ts';
import type { Metrics } from '../../src/metrics/registry.ts';
import { readingKey } from '../../src/storage/item.ts';
import type { TelemetryItem } from '../../src/storage/item.ts';
import type { BatchWriteOutcome, TelemetryStore } from '../../src/storage/telemetry-store.ts';

// ---- fixtures ------------------------------------------------------------------------------------

type Behaviour = (items: readonly TelemetryItem[], call: number) => BatchWriteOutcome | Promise<BatchWriteOutcome> | undefined;

/** An in-memory table behind the TelemetryStore seam, with hooks to hold, fail or partially process requests. */
class MemoryStore implements TelemetryStore {
  readonly tableName = 'memory';
  readonly table = new Map<string, TelemetryItem>();
  readonly requests: TelemetryItem[][] = [];
  inflight = 0;
  maxInflight = 0;
  behaviour: Behaviour | undefined;
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  /** Holds every request until `open()`. */
  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  open(): void {
    this.openGate?.();
    this.gate = undefined;
  }

  async writeBatch(items: readonly TelemetryItem[]): Promise<BatchWriteOutcome> {
    const call = this.requests.length;
    this.requests.push([...items]);
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    try {
      if (this.gate) await this.gate;
      const outcome = (await this.behaviour?.(items, call)) ?? { unprocessed: [], consumedCapacityUnits: items.length };
      const skip = new Set(outcome.unprocessed.map((i) => key(i)));
      for (const item of items) if (!skip.has(key(item))) this.table.set(key(item), item);
      return outcome;
    } finally {
      this.inflight--;
    }
  }
}

function key(item: TelemetryItem): string {
  return readingKey(String(item.deviceId), Number(item.ts));
}

const T0 = 1_732_480_000_000;

function reading(deviceId: string, ts: number, attributes: Record<string, AttributeValue> = { v: 1 }, sizeBytes = 100): Reading {
  return { deviceId, ts: T0 + ts, receivedAt: Date.now(), attributes, sizeBytes };
}

interface Rig {
  store: MemoryStore;
  metrics: Metrics;
  batcher: Batcher;
  writer: DynamoDbSink;
  rejected: { reading: Reading; message: string }[];
}

const DEFAULTS: BatcherOptions = { batchSize: 25, lingerMs: 5, writeConcurrency: 4, maxQueuedReadings: 10_000, maxQueuedBytes: 1e9, maxHoldMs: 1_000, adaptiveFlush: false };
const rigs: Rig[] = [];

function rig(options: Partial<BatcherOptions> = {}, writeTimeoutMs = 500, retentionDays?: number): Rig {
  const store = new MemoryStore();
  const metrics = createMetrics({ defaultMetrics: false });
  const writer = new DynamoDbSink(transportFromStore(store), metrics, { retentionDays, writeTimeoutMs, backoff: { baseMs: 1, capMs: 4 } });
  const rejected: Rig['rejected'] = [];
  const batcher = new Batcher({ ...DEFAULTS, ...options }, writer, metrics, async (r, message) => {
    rejected.push({ reading: r, message });
  });
  const created = { store, metrics, batcher, writer, rejected };
  rigs.push(created);
  return created;
}

afterEach(async () => {
  // Every rig must end idle: nothing outstanding, no counter drift.
  for (const r of rigs.splice(0)) {
    r.store.open();
    await r.batcher.drain();
    const s = r.batcher.stats();
    expect(s.outstandingReadings).toBe(0);
    expect(s.outstandingBytes).toBe(0);
    expect(s.inflight).toBe(0);
    expect(s.waiting).toBe(0);
  }
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Lets pending microtasks and already-due timers run. */
async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

function state<T>(p: Promise<T>): { settled: boolean; value?: T; error?: unknown } {
  const s: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  p.then(
    (value) => Object.assign(s, { settled: true, value }),
    (error: unknown) => Object.assign(s, { settled: true, error }),
  );
  return s;
}

function metricValue(metrics: Metrics, name: keyof Metrics, labels: Record<string, string> = {}): Promise<number> {
  const metric = metrics[name] as { get(): Promise<{ values: { value: number; labels: Record<string, string | number>; metricName?: string }[] }> };
  return metric.get().then((m) => {
    const hit = m.values.find((v) => (v.metricName === undefined || !/_bucket$|_sum$/.test(v.metricName)) && Object.entries(labels).every(([k, val]) => v.labels[k] === val));
    return hit?.value ?? 0;
  });
}

async function submitAll(batcher: Batcher, messages: Reading[][]): Promise<Submission[]> {
  const out: Submission[] = [];
  for (const m of messages) out.push(await batcher.submit(m));
  return out;
}

// ---- tests -------------------------------------------------------------------------------------

describe('Batcher + BatchWriter', () => {
  it('flushes a full batch immediately, without waiting for the linger', async () => {
    const { store, batcher, metrics } = rig({ batchSize: 5, lingerMs: 60_000 });
    const started = Date.now();
    const sub = await batcher.submit([0, 1, 2, 3, 4].map((i) => reading('d', i)));
    expect(await sub.stored).toEqual({ stored: 5, rejected: 0 });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(store.requests.map((r) => r.length)).toEqual([5]);
    expect(await metricValue(metrics, 'readingsStoredTotal')).toBe(5);
    expect(await metricValue(metrics, 'readingsReceivedTotal')).toBe(5);
  });

  it('counts readings received as they are queued, exact at every scrape', async () => {
    const { metrics, batcher } = rig({ batchSize: 5, lingerMs: 60_000 });
    expect(await metricValue(metrics, 'readingsReceivedTotal')).toBe(0);
    await (await batcher.submit([0, 1, 2, 3, 4].map((i) => reading('a', i)))).stored;
    expect(await metricValue(metrics, 'readingsReceivedTotal')).toBe(5);
    expect(await metricValue(metrics, 'readingsReceivedTotal')).toBe(5);
    const held = await batcher.submit([0, 1, 2].map((i) => reading('b', i))); // queued, lingering
    expect(await metricValue(metrics, 'readingsReceivedTotal')).toBe(8);
    await batcher.drain();
    await held.stored;
    expect(await metricValue(metrics, 'readingsReceivedTotal')).toBe(8);
  });

  it('sends a partial batch once its oldest reading has lingered', async () => {
    const { store, batcher } = rig({ batchSize: 25, lingerMs: 40 });
    const started = performance.now();
    const sub = await batcher.submit([reading('d', 1), reading('d', 2)]);
    const sub2 = await batcher.submit([reading('d', 3)]);
    await settle();
    expect(store.requests).toHaveLength(0); // still lingering
    await Promise.all([sub.stored, sub2.stored]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
    expect(store.requests.map((r) => r.length)).toEqual([3]);
  });

  it('maps readings to native items with the server attributes and expiresAt', async () => {
    const { store, batcher } = rig({ lingerMs: 0 }, 500, 7);
    const r = reading('dev', 1, { gps: { lat: 1 }, list: [1, 'a'] });
    await (await batcher.submit([r])).stored;
    expect(store.table.get(readingKey('dev', T0 + 1))).toEqual({
      deviceId: 'dev', ts: T0 + 1, receivedAt: r.receivedAt, gps: { lat: 1 }, list: [1, 'a'], expiresAt: Math.floor((T0 + 1) / 1000) + 7 * 86_400,
    });
  });

  it('merges two readings with one key in a batch: last one wins, both messages count as stored', async () => {
    const { store, batcher, metrics } = rig({ lingerMs: 20 });
    const first = await batcher.submit([reading('d', 1, { v: 'first' })]);
    const second = await batcher.submit([reading('d', 1, { v: 'second' }), reading('d', 2)]);
    expect(await first.stored).toEqual({ stored: 1, rejected: 0 });
    expect(await second.stored).toEqual({ stored: 2, rejected: 0 });
    expect(store.requests).toHaveLength(1);
    expect(store.requests[0]?.map(key)).toEqual([readingKey('d', T0 + 1), readingKey('d', T0 + 2)]);
    expect(store.table.get(readingKey('d', T0 + 1))?.v).toBe('second');
    expect(await metricValue(metrics, 'duplicateReadingsTotal')).toBe(1);
    expect(await metricValue(metrics, 'readingsStoredTotal')).toBe(2);
  });

  it('duplicates inside one message (same ts twice) settle the message once, not early', async () => {
    const { store, batcher } = rig({ lingerMs: 0 });
    const sub = await batcher.submit([reading('d', 1, { v: 1 }), reading('d', 1, { v: 2 })]);
    expect(await sub.stored).toEqual({ stored: 2, rejected: 0 });
    expect(store.table.get(readingKey('d', T0 + 1))?.v).toBe(2);
  });

  it('property: batches never exceed batchSize nor repeat a key; every key ends with its last value', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      let s = seed;
      const rand = (n: number): number => {
        s = (s * 48_271) % 2_147_483_647;
        return s % n;
      };
      const batchSize = 1 + rand(25);
      // Concurrency 1 keeps batches in order, so "last wins" holds across batches too.
      const { store, batcher } = rig({ batchSize, lingerMs: rand(3), writeConcurrency: 1 });
      const last = new Map<string, number>();
      const messages: Reading[][] = [];
      for (let m = 0; m < 60; m++) {
        const msg: Reading[] = [];
        for (let i = 1 + rand(6); i > 0; i--) {
          const r = reading(`d${rand(3)}`, rand(20), { v: m * 100 + i });
          last.set(readingKey(r.deviceId, r.ts), r.attributes.v as number);
          msg.push(r);
        }
        messages.push(msg);
      }
      const subs = await submitAll(batcher, messages);
      const outcomes = await Promise.all(subs.map((x) => x.stored));
      outcomes.forEach((o, i) => expect(o).toEqual({ stored: messages[i]?.length, rejected: 0 }));
      for (const req of store.requests) {
        expect(req.length, `seed ${seed}`).toBeLessThanOrEqual(batchSize);
        expect(new Set(req.map(key)).size, `seed ${seed}`).toBe(req.length);
      }
      expect(new Map([...store.table].map(([k, item]) => [k, item.v])), `seed ${seed}`).toEqual(last);
    }
  });

  it('never has more than writeConcurrency requests in flight; batches fill meanwhile', async () => {
    const { store, batcher, metrics } = rig({ batchSize: 2, lingerMs: 0, writeConcurrency: 3 });
    store.hold();
    const subs = await submitAll(batcher, Array.from({ length: 20 }, (_, i) => [reading('d', i)]));
    await waitFor(() => store.inflight === 3, '3 requests in flight');
    await settle();
    expect(store.inflight).toBe(3);
    expect(batcher.stats().inflight).toBe(3);
    expect(batcher.stats().queuedReadings).toBe(20 - 3);
    metrics.inflightBatches.set(batcher.stats().inflight);
    expect(await metricValue(metrics, 'inflightBatches')).toBe(3);
    store.open();
    await Promise.all(subs.map((x) => x.stored));
    expect(store.maxInflight).toBe(3);
    expect(store.table.size).toBe(20);
    // While all slots were busy the rest filled whole batches (17 readings: 8 of 2, then the odd one).
    expect(store.requests.slice(3).map((r) => r.length)).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 1]);
  });

  it('writeConcurrency 1 still sends every batch, one after another', async () => {
    const { store, batcher } = rig({ batchSize: 3, lingerMs: 0, writeConcurrency: 1 });
    const subs = await submitAll(batcher, Array.from({ length: 30 }, (_, i) => [reading('d', i)]));
    await Promise.all(subs.map((x) => x.stored));
    expect(store.maxInflight).toBe(1);
    expect(store.table.size).toBe(30);
  });

  it('a full queue holds submit (backpressure) until space frees', async () => {
    const { store, batcher, metrics } = rig({ batchSize: 4, lingerMs: 0, writeConcurrency: 1, maxQueuedReadings: 4, maxHoldMs: 5_000 });
    store.hold();
    const first = await batcher.submit([0, 1, 2, 3].map((i) => reading('d', i)));
    const waiting = batcher.submit([reading('d', 10), reading('d', 11)]);
    const w = state(waiting);
    await settle();
    expect(w.settled).toBe(false);
    expect(batcher.stats()).toMatchObject({ waiting: 1, outstandingReadings: 4, outstandingBytes: 400 });
    expect(await metricValue(metrics, 'backpressureWaitsTotal')).toBe(1);
    // Later arrivals queue behind the waiter even if they would fit (FIFO).
    const third = state(batcher.submit([reading('d', 20)]));
    await settle();
    expect(third.settled).toBe(false);
    store.open();
    expect(await first.stored).toEqual({ stored: 4, rejected: 0 });
    const sub = await waiting;
    expect(await sub.stored).toEqual({ stored: 2, rejected: 0 });
    await waitFor(() => third.settled, 'third submission admitted');
    expect(third.error).toBeUndefined();
    expect(await (third.value as Submission).stored).toEqual({ stored: 1, rejected: 0 });
    expect(store.table.size).toBe(7);
  });

  it('the byte bound holds submit too', async () => {
    const { store, batcher } = rig({ lingerMs: 0, writeConcurrency: 1, maxQueuedBytes: 1_000, maxHoldMs: 5_000 });
    store.hold();
    await batcher.submit([reading('d', 1, { v: 1 }, 900)]);
    const w = state(batcher.submit([reading('d', 2, { v: 1 }, 200)]));
    await settle();
    expect(w.settled).toBe(false);
    expect(batcher.stats().outstandingBytes).toBe(900);
    store.open();
    await waitFor(() => w.settled, 'byte waiter admitted');
    expect(w.error).toBeUndefined();
  });

  it('a message larger than the whole queue is admitted into an empty queue', async () => {
    const { batcher } = rig({ lingerMs: 0, maxQueuedReadings: 2 });
    const sub = await batcher.submit([1, 2, 3, 4, 5].map((i) => reading('d', i)));
    expect(await sub.stored).toEqual({ stored: 5, rejected: 0 });
  });

  it('rejects with QUEUE_FULL after maxHoldMs without space, and forgets the waiter', async () => {
    const { store, batcher } = rig({ lingerMs: 0, maxQueuedReadings: 2, maxHoldMs: 20 });
    store.hold();
    const first = await batcher.submit([reading('d', 1), reading('d', 2)]);
    const started = performance.now();
    const err = await batcher.submit([reading('d', 3)]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(IngestError);
    expect(err).toMatchObject({ code: 'QUEUE_FULL', retriable: true });
    expect((err as Error).message).toContain('20 ms');
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
    expect(batcher.stats().waiting).toBe(0);
    store.open();
    expect(await first.stored).toEqual({ stored: 2, rejected: 0 });
    expect(store.table.has(readingKey('d', T0 + 3))).toBe(false);
  });

  it('drain() sends everything at once, resolves when written, then refuses new messages', async () => {
    const { store, batcher } = rig({ batchSize: 25, lingerMs: 60_000 });
    const subs = await submitAll(batcher, [[reading('d', 1)], [reading('d', 2), reading('e', 2)]]);
    await settle();
    expect(store.requests).toHaveLength(0);
    await batcher.drain();
    expect(store.table.size).toBe(3);
    expect(batcher.stats().outstandingReadings).toBe(0);
    for (const s of subs) await expect(s.stored).resolves.toMatchObject({ rejected: 0 });
    await expect(batcher.submit([reading('d', 9)])).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    await batcher.drain(); // idempotent
  });

  it('drain() refuses held waiters with SHUTTING_DOWN and waits for in-flight writes', async () => {
    const { store, batcher } = rig({ lingerMs: 0, maxQueuedReadings: 1, maxHoldMs: 5_000 });
    store.hold();
    const first = await batcher.submit([reading('d', 1)]);
    const waiter = batcher.submit([reading('d', 2)]);
    const w = state(waiter);
    const drained = state(batcher.drain());
    await settle();
    expect(w.error).toMatchObject({ code: 'SHUTTING_DOWN' });
    expect(drained.settled).toBe(false);
    store.open();
    await waitFor(() => drained.settled, 'drain');
    expect(await first.stored).toEqual({ stored: 1, rejected: 0 });
  });

  it('resends UnprocessedItems, and only them', async () => {
    const { store, batcher, metrics } = rig({ batchSize: 10, lingerMs: 0 });
    store.behaviour = (items, call) => (call === 0 ? { unprocessed: items.filter((i) => Number(i.ts) % 2 === 1), consumedCapacityUnits: 5 } : undefined);
    const sub = await batcher.submit(Array.from({ length: 10 }, (_, i) => reading('d', i)));
    expect(await sub.stored).toEqual({ stored: 10, rejected: 0 });
    expect(store.requests).toHaveLength(2);
    expect(store.requests[1]?.map((i) => Number(i.ts) - T0)).toEqual([1, 3, 5, 7, 9]);
    expect(store.table.size).toBe(10);
    expect(await metricValue(metrics, 'unprocessedItemsTotal')).toBe(5);
    expect(await metricValue(metrics, 'writeRetriesTotal', { reason: 'unprocessed' })).toBe(1);
    expect(await metricValue(metrics, 'readingsStoredTotal')).toBe(10);
    expect(await metricValue(metrics, 'consumedWriteCapacityUnitsTotal', { table: 'memory' })).toBe(10);
  });

  it('keeps resending shrinking UnprocessedItems until all are in', async () => {
    const { store, batcher } = rig({ batchSize: 8, lingerMs: 0 });
    store.behaviour = (items) => ({ unprocessed: items.slice(0, Math.floor(items.length / 2)), consumedCapacityUnits: 0 });
    const sub = await batcher.submit(Array.from({ length: 8 }, (_, i) => reading('d', i)));
    expect(await sub.stored).toEqual({ stored: 8, rejected: 0 });
    expect(store.requests.map((r) => r.length)).toEqual([8, 4, 2, 1]);
  });

  it('narrows a ValidationException down so only the bad item is rejected; the rest is stored', async () => {
    const { store, batcher, metrics, rejected } = rig({ batchSize: 25, lingerMs: 10 });
    store.behaviour = (items) => {
      if (items.some((i) => i.bad === true)) {
        throw Object.assign(new Error('bad'), { name: 'ValidationException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
      }
      return undefined;
    };
    const readings = Array.from({ length: 13 }, (_, i) => reading('d', i, i === 9 ? { bad: true } : { v: i }));
    const good = await batcher.submit(readings.filter((_, i) => i !== 9));
    const badSub = await batcher.submit([readings[9] as Reading]);
    // Both messages are in one batch of 13.
    expect(await good.stored).toEqual({ stored: 12, rejected: 0 });
    expect(await badSub.stored).toEqual({ stored: 0, rejected: 1 });
    expect(store.requests[0]).toHaveLength(13);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.reading).toBe(readings[9]);
    expect(rejected[0]?.message).toBe('bad');
    expect(store.table.size).toBe(12);
    expect(store.table.has(readingKey('d', T0 + 9))).toBe(false);
    expect(await metricValue(metrics, 'dynamodbErrorsTotal', { operation: 'BatchWriteItem', code: 'ValidationException' })).toBeGreaterThanOrEqual(4);
    expect(await metricValue(metrics, 'readingsStoredTotal')).toBe(12);
  });

  it('a message whose only reading is rejected settles after onRejected finished (dead-letter before PUBACK)', async () => {
    const store = new MemoryStore();
    const metrics = createMetrics({ defaultMetrics: false });
    const writer = new DynamoDbSink(transportFromStore(store), metrics, { retentionDays: undefined, writeTimeoutMs: 500 });
    let finishDeadLetter!: () => void;
    const deadLettered = new Promise<void>((resolve) => (finishDeadLetter = resolve));
    const batcher = new Batcher({ ...DEFAULTS, lingerMs: 0 }, writer, metrics, () => deadLettered);
    store.behaviour = () => {
      throw Object.assign(new Error('bad'), { name: 'ValidationException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
    };
    const sub = state((await batcher.submit([reading('d', 1)])).stored);
    await waitFor(() => store.requests.length === 1, 'one request');
    await settle();
    expect(sub.settled).toBe(false);
    finishDeadLetter();
    await waitFor(() => sub.settled, 'settled');
    expect(sub.value).toEqual<StoreOutcome>({ stored: 0, rejected: 1 });
    await batcher.drain();
  });

  it('retries throttling, then rejects with STORE_FAILED and the cause chain when the budget runs out', async () => {
    const { store, batcher, metrics } = rig({ lingerMs: 0 }, 40);
    const throttled = Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), {
      name: 'ProvisionedThroughputExceededException', $fault: 'client', $metadata: { httpStatusCode: 400 },
    });
    store.behaviour = () => {
      throw throttled;
    };
    const sub = await batcher.submit([reading('d', 1), reading('d', 2)]);
    const err = await sub.stored.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(IngestError);
    expect(err).toMatchObject({ code: 'STORE_FAILED', retriable: true });
    const cause = (err as Error).cause as Error;
    expect(cause).toBeInstanceOf(Error);
    expect(cause.message).toMatch(/retry budget of 40 ms exhausted after \d+ attempts \(throttled\)/);
    expect(cause.cause).toBe(throttled);
    expect((err as Error).message).toContain('retry budget');
    expect(store.requests.length).toBeGreaterThan(1);
    expect(await metricValue(metrics, 'writeRetriesTotal', { reason: 'throttled' })).toBe(store.requests.length - 1);
    expect(await metricValue(metrics, 'dynamodbThrottlesTotal', { operation: 'BatchWriteItem' })).toBe(store.requests.length);
    expect(await metricValue(metrics, 'readingsStoredTotal')).toBe(0);
    expect(batcher.stats().outstandingReadings).toBe(0);
  });

  it('retries 5xx and network errors and then succeeds', async () => {
    const { store, batcher, metrics } = rig({ lingerMs: 0 });
    store.behaviour = (_items, call) => {
      if (call === 0) throw Object.assign(new Error('boom'), { name: 'InternalServerError', $fault: 'server', $metadata: { httpStatusCode: 500 } });
      if (call === 1) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', $metadata: { attempts: 1 } });
      return undefined;
    };
    const sub = await batcher.submit([reading('d', 1)]);
    expect(await sub.stored).toEqual({ stored: 1, rejected: 0 });
    expect(store.requests).toHaveLength(3);
    expect(await metricValue(metrics, 'writeRetriesTotal', { reason: 'server_error' })).toBe(1);
    expect(await metricValue(metrics, 'writeRetriesTotal', { reason: 'network' })).toBe(1);
  });

  it('a non-retriable error fails the batch at once with the error as cause', async () => {
    const { store, batcher } = rig({ lingerMs: 0 }, 10_000);
    const denied = Object.assign(new Error('not authorized'), { name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
    store.behaviour = () => {
      throw denied;
    };
    const sub = await batcher.submit([reading('d', 1)]);
    await expect(sub.stored).rejects.toMatchObject({ code: 'STORE_FAILED', cause: denied });
    expect(store.requests).toHaveLength(1);
  });

  it('a message spread over a failed and a stored batch is rejected, the others are stored', async () => {
    const { store, batcher } = rig({ batchSize: 2, lingerMs: 0, writeConcurrency: 1 }, 10_000);
    store.behaviour = (items) => {
      if (items.some((i) => i.fail === true)) throw new TypeError('programmer error');
      return undefined;
    };
    const mixed = await batcher.submit([reading('d', 1), reading('d', 2), reading('d', 3, { fail: true })]);
    const clean = await batcher.submit([reading('e', 1)]);
    await expect(mixed.stored).rejects.toMatchObject({ code: 'STORE_FAILED' });
    // e/1 shares the failing batch with d/3, so it fails too; d/1 and d/2 are stored.
    await expect(clean.stored).rejects.toMatchObject({ code: 'STORE_FAILED' });
    expect([...store.table.keys()].sort()).toEqual([readingKey('d', T0 + 1), readingKey('d', T0 + 2)].sort());
  });

  it('a rejected handler that fails does not leave the message unsettled', async () => {
    const store = new MemoryStore();
    const metrics = createMetrics({ defaultMetrics: false });
    const writer = new DynamoDbSink(transportFromStore(store), metrics, { retentionDays: undefined, writeTimeoutMs: 500 });
    const batcher = new Batcher({ ...DEFAULTS, lingerMs: 0 }, writer, metrics, async () => {});
    store.behaviour = () => {
      throw Object.assign(new Error('bad'), { name: 'ValidationException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
    };
    const sub = await batcher.submit([reading('d', 1), reading('d', 2)]);
    expect(await sub.stored).toEqual({ stored: 0, rejected: 2 });
    await batcher.drain();
  });

  it('a rejected-reading handler that throws or rejects still settles the message, once per reading', async () => {
    for (const handler of [async (): Promise<void> => { throw new Error('dead-letter down'); }, (): Promise<void> => { throw new Error('sync throw'); }]) {
      const store = new MemoryStore();
      const metrics = createMetrics({ defaultMetrics: false });
      const sink = new DynamoDbSink(transportFromStore(store), metrics, { retentionDays: undefined, writeTimeoutMs: 500 });
      let calls = 0;
      const batcher = new Batcher({ ...DEFAULTS, lingerMs: 0 }, sink, metrics, () => {
        calls++;
        return handler();
      });
      store.behaviour = () => {
        throw Object.assign(new Error('bad'), { name: 'ValidationException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
      };
      const sub = await batcher.submit([reading('d', 1), reading('d', 2)]);
      const s = state(sub.stored);
      await waitFor(() => s.settled, 'message settles although the handler failed');
      expect(s.value).toEqual({ stored: 0, rejected: 2 });
      expect(calls).toBe(2);
      await batcher.drain();
      expect(batcher.stats().outstandingReadings).toBe(0);
    }
  });

  it('stats report the oldest reading age across queue and in-flight requests', async () => {
    const { store, batcher } = rig({ lingerMs: 0, writeConcurrency: 1, batchSize: 1 });
    store.hold();
    await batcher.submit([reading('d', 1)]);
    await batcher.submit([reading('d', 2)]);
    await waitFor(() => store.inflight === 1, 'in flight');
    const now = Date.now();
    const s = batcher.stats(now + 1_000);
    expect(s.oldestAgeMs).toBeGreaterThanOrEqual(1_000);
    expect(s).toMatchObject({ queuedReadings: 1, outstandingReadings: 2, inflight: 1 });
    store.open();
    await batcher.drain();
    expect(batcher.stats().oldestAgeMs).toBe(0);
  });
});
