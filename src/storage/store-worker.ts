// The worker-thread side of the threaded DynamoDB transport: it owns the signer and the keep-alive
// sockets and posts each BatchWriteItem body it is sent, so signing and HTTP stay off the broker's
// event loop. Requests arrive as one string each (no structured clone of item objects), those of
// one turn of the main thread together; replies carry the outcome, or the error classified here
// (toWire), and those ready in one turn of this thread leave together.
import { parentPort, workerData } from 'node:worker_threads';
import type { DynamoConnection } from './client.ts';
import { toWire } from './errors.ts';
import { createHttpTransport } from './dynamodb/http-transport.ts';
import type { BatchTransport } from './dynamodb/transport.ts';
import type { StoreReply, StoreRequests } from './worker-store.ts';

const { connection, tableName, env } = workerData as { connection: DynamoConnection; tableName: string; env: NodeJS.ProcessEnv };
const port = parentPort;
if (!port) throw new Error('store-worker.ts runs only as a worker thread');
const transport = createHttpTransport(connection, tableName, env);
// Once the transport is up, requests go to it directly (no promise hop through `transport` each time).
let ready: BatchTransport | undefined;
void transport.then((t) => (ready = t), () => undefined);

let replies: StoreReply[] = [];
const postReplies = (): void => {
  const list = replies;
  replies = [];
  port.postMessage(list);
};
const reply = (r: StoreReply): void => {
  if (replies.length === 0) setImmediate(postReplies);
  replies.push(r);
};

port.on('message', (requests: StoreRequests) => {
  for (const request of requests) {
    (ready ? ready.send(request.body) : transport.then((t) => t.send(request.body))).then(
      (outcome) => reply({ id: request.id, outcome }),
      (err: unknown) => reply({ id: request.id, error: toWire(err) }),
    );
  }
});
port.on('close', () => void transport.then((t) => t.close()));
