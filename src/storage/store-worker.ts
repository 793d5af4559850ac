// The worker-thread side of the threaded telemetry store: it owns the AWS SDK client and runs each
// BatchWriteItem it is sent, so request building, marshalling, signing and HTTP stay off the
// broker's event loop. Replies carry the outcome, or the error classified here (toWire).
import { parentPort, workerData } from 'node:worker_threads';
import { createDynamoClients } from './client.ts';
import { toWire } from './errors.ts';
import type { DynamoConnection } from './client.ts';
import type { TelemetryItem } from './item.ts';
import { createDynamoTelemetryStore } from './telemetry-store.ts';
import type { StoreReply, StoreRequest } from './worker-store.ts';

const { connection, tableName, env } = workerData as { connection: DynamoConnection; tableName: string; env: NodeJS.ProcessEnv };
const clients = createDynamoClients(connection, env);
const store = createDynamoTelemetryStore(clients.doc, tableName);
const port = parentPort;
if (!port) throw new Error('store-worker.ts runs only as a worker thread');

port.on('message', (request: StoreRequest) => {
  store.writeBatch(request.items as TelemetryItem[]).then(
    (outcome) => port.postMessage({ id: request.id, outcome } satisfies StoreReply),
    (err: unknown) => port.postMessage({ id: request.id, error: toWire(err) } satisfies StoreReply),
  );
});
port.on('close', () => clients.destroy());
