// A TelemetryStore that runs its BatchWriteItem requests on a worker thread. On two cores the AWS
// SDK's per-request work (building, marshalling, signing, HTTP) otherwise takes about 40 % of the
// broker's event loop; here it runs beside it. The writer, its retries and all metrics stay on the
// main thread: only the request crosses. Errors come back already classified (src/storage/errors.ts).
// If the worker dies, its requests fail as retriable network errors and the next request starts a new worker.
import { Worker } from 'node:worker_threads';
import type { DynamoConnection } from './client.ts';
import { StoreError, fromWire } from './errors.ts';
import type { WireError } from './errors.ts';
import type { TelemetryItem } from './item.ts';
import type { BatchWriteOutcome, TelemetryStore } from './telemetry-store.ts';

export interface StoreRequest {
  readonly id: number;
  readonly items: readonly TelemetryItem[];
}

export type StoreReply = { readonly id: number; readonly outcome: BatchWriteOutcome } | { readonly id: number; readonly error: WireError };

export interface ThreadedTelemetryStore extends TelemetryStore {
  /** Ends the current worker (its requests fail as network errors); the next request starts a new one. */
  terminateWorker(): Promise<void>;
  close(): Promise<void>;
}

const BOOT = new URL('./store-worker-boot.mjs', import.meta.url);

export function createThreadedTelemetryStore(connection: DynamoConnection, tableName: string, env: NodeJS.ProcessEnv): ThreadedTelemetryStore {
  const pending = new Map<number, { resolve: (o: BatchWriteOutcome) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let worker: Worker | undefined;
  let closed = false;

  const failAll = (why: string): void => {
    for (const { reject } of pending.values()) {
      // The request's fate is unknown (it may or may not have reached DynamoDB): a retriable network
      // error, so the writer resends the batch (writes are idempotent by key).
      reject(new StoreError('network', 'WorkerExited', `store worker ${why}`));
    }
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

  return {
    tableName,
    writeBatch(items) {
      if (closed) return Promise.reject(new StoreError('fatal', 'StoreClosed', 'threaded store is closed', { retriable: false }));
      worker ??= start();
      const id = nextId++;
      const w = worker;
      return new Promise<BatchWriteOutcome>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        w.postMessage({ id, items } satisfies StoreRequest);
      });
    },
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
