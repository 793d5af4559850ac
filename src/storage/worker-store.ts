// The DynamoDB transport on a worker thread. On two cores signing and HTTP otherwise take a large
// share of the broker's event loop; here they run beside it. The sink, its retries and all metrics
// stay on the main thread: only the request body (one string) crosses, and the outcome (unprocessed
// keys) comes back. Errors come back already classified (src/storage/errors.ts). If the worker dies,
// its requests fail as retriable network errors and the next request starts a new worker.
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
    w.on('message', (reply: StoreReply) => {
      const waiter = pending.get(reply.id);
      if (!waiter) return;
      pending.delete(reply.id);
      if ('outcome' in reply) waiter.resolve(reply.outcome);
      else waiter.reject(fromWire(reply.error));
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

  const sendBody = (body: string): Promise<BatchOutcome> => {
    if (closed) return Promise.reject(new StoreError('fatal', 'StoreClosed', 'threaded store is closed', { retriable: false }));
    worker ??= start();
    const id = nextId++;
    const w = worker;
    return new Promise<BatchOutcome>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      w.postMessage({ id, body } satisfies StoreRequest);
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
