// The DynamoDB transport on a worker thread. On two cores signing and HTTP otherwise take a large
// share of the broker's event loop; here they run beside it. The sink, its retries and all metrics
// stay on the main thread: only the request body (one string) crosses, and the outcome (unprocessed
// keys) comes back. The bodies made in one turn of the event loop cross in one message, and the
// worker answers what finished in one of its turns in one message: a message between threads costs
// a wake-up and a fixed share of CPU on both sides, whatever it carries, and under load the batcher
// hands over several batches per turn. Errors come back already classified (src/storage/errors.ts).
// If the worker dies, its requests fail as retriable network errors and the next request starts a
// new worker.
// createThreadedTelemetryStore keeps the item-object TelemetryStore interface over it (tools, tests).
import { Worker } from 'node:worker_threads';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoConnection } from './client.ts';
import { StoreError, fromWire } from './errors.ts';
import type { WireError } from './errors.ts';
import type { TelemetryItem } from './item.ts';
import { readingKey } from '../ingest/reading.ts';
import type { BatchWriteOutcome, TelemetryStore } from './telemetry-store.ts';
import type { BatchOutcome, BatchTransport } from './dynamodb/transport.ts';
import { batchWriteBody } from './dynamodb/wire.ts';

export interface StoreRequest {
  readonly id: number;
  /** A whole BatchWriteItem body. */
  readonly body: string;
}

export type StoreReply = { readonly id: number; readonly outcome: BatchOutcome } | { readonly id: number; readonly error: WireError };

/** What crosses to the worker: the requests of one turn, in order. */
export type StoreRequests = readonly StoreRequest[];
/** What crosses back: the replies of one turn of the worker. */
export type StoreReplies = readonly StoreReply[];

export interface ThreadedTransport extends BatchTransport {
  /** Ends the current worker (its requests fail as network errors); the next request starts a new one. */
  terminateWorker(): Promise<void>;
}

const BOOT = new URL('./store-worker-boot.mjs', import.meta.url);

export function createThreadedTransport(connection: DynamoConnection, tableName: string, env: NodeJS.ProcessEnv): ThreadedTransport {
  const pending = new Map<number, { resolve: (o: BatchOutcome) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let worker: Worker | undefined;
  let closed = false;

  const failAll = (why: string): void => {
    // The requests' fate is unknown (they may or may not have reached DynamoDB): retriable network
    // errors, so the sink resends them (writes are idempotent by key).
    for (const { reject } of pending.values()) reject(new StoreError('network', 'WorkerExited', `store worker ${why}`));
    pending.clear();
  };

  const start = (): Worker => {
    const w = new Worker(BOOT, { workerData: { connection, tableName, env } });
    w.on('message', (replies: StoreReplies) => {
      for (const reply of replies) {
        const waiter = pending.get(reply.id);
        if (!waiter) continue;
        pending.delete(reply.id);
        if ('outcome' in reply) waiter.resolve(reply.outcome);
        else waiter.reject(fromWire(reply.error));
      }
    });
    w.on('error', (err) => failAll(`failed: ${err.message}`));
    w.on('exit', (code) => {
      if (worker === w) worker = undefined;
      failAll(`exited with code ${code}`);
    });
    // Idle workers must not keep a finished process alive; pending requests keep it referenced.
    w.unref();
    return w;
  };

  // Requests of this turn, posted together at its end (setImmediate: after the socket reads of this
  // turn of the event loop, which is what makes several batches).
  let outbox: StoreRequest[] = [];
  let outboxFor: Worker | undefined;
  const postOutbox = (): void => {
    const requests = outbox;
    const w = outboxFor;
    outbox = [];
    outboxFor = undefined;
    // A worker that exited meanwhile failed these requests already (failAll).
    if (w !== undefined && w === worker) w.postMessage(requests satisfies StoreRequests);
  };
  const sendBody = (body: string): Promise<BatchOutcome> => {
    if (closed) return Promise.reject(new StoreError('fatal', 'StoreClosed', 'threaded store is closed', { retriable: false }));
    worker ??= start();
    if (outboxFor !== worker) {
      if (outbox.length > 0) postOutbox();
      outboxFor = worker;
      setImmediate(postOutbox);
    }
    const id = nextId++;
    return new Promise<BatchOutcome>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      outbox.push({ id, body });
    });
  };
  return {
    tableName,
    send: sendBody,
    async terminateWorker() {
      await worker?.terminate();
    },
    async close() {
      closed = true;
      const w = worker;
      worker = undefined;
      if (w) await w.terminate();
    },
  };
}

export interface ThreadedTelemetryStore extends TelemetryStore {
  terminateWorker(): Promise<void>;
  close(): Promise<void>;
}

/** The threaded transport behind the item-object TelemetryStore interface (items marshalled by the SDK). */
export function createThreadedTelemetryStore(connection: DynamoConnection, tableName: string, env: NodeJS.ProcessEnv): ThreadedTelemetryStore {
  const transport = createThreadedTransport(connection, tableName, env);
  return {
    tableName,
    async writeBatch(items: readonly TelemetryItem[]): Promise<BatchWriteOutcome> {
      const out = await transport.send(batchWriteBody(tableName, items.map((i) => JSON.stringify(marshall(i, { removeUndefinedValues: true })))));
      const keys = new Set(out.unprocessedKeys);
      return { unprocessed: items.filter((i) => keys.has(readingKey(String(i.deviceId), Number(i.ts)))), consumedCapacityUnits: out.consumedCapacityUnits };
    },
    terminateWorker: () => transport.terminateWorker(),
    close: () => transport.close(),
  };
}
