// The worker-thread side of the threaded DynamoDB transport: it owns the signer and the keep-alive
// sockets and posts each BatchWriteItem body it is sent, so signing and HTTP stay off the broker's
// event loop. Requests arrive as one string (no structured clone of item objects); replies carry
// the outcome, or the error classified here (toWire).
import { parentPort, workerData } from 'node:worker_threads';
import type { DynamoConnection } from './client.ts';
import { toWire } from './errors.ts';
import { createHttpTransport } from './dynamodb/http-transport.ts';
import type { BatchTransport } from './dynamodb/transport.ts';
import type { StoreReply, StoreRequest } from './worker-store.ts';

const { connection, tableName, env } = workerData as { connection: DynamoConnection; tableName: string; env: NodeJS.ProcessEnv };
const port = parentPort;
if (!port) throw new Error('store-worker.ts runs only as a worker thread');
const transport = createHttpTransport(connection, tableName, env);
// Once the transport is up, requests go to it directly (no promise hop through `transport` each time).
let ready: BatchTransport | undefined;
void transport.then((t) => (ready = t), () => undefined);

port.on('message', (request: StoreRequest) => {
  (ready ? ready.send(request.body) : transport.then((t) => t.send(request.body))).then(
    (outcome) => port.postMessage({ id: request.id, outcome } satisfies StoreReply),
    (err: unknown) => port.postMessage({ id: request.id, error: toWire(err) } satisfies StoreReply),
  );
});
port.on('close', () => void transport.then((t) => t.close()));
