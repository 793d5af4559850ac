// The worker-thread side of the threaded DynamoDB transport: it owns the signer and the keep-alive
// sockets and posts each BatchWriteItem body it is sent, so signing and HTTP stay off the broker's
// event loop. Bodies arrive through the hand-off ring (request-ring.ts), taken whenever this thread
// is awake: on the broker's wake-up message, and after each answer of DynamoDB, which under load is
// what wakes this thread anyway. With nothing in flight it parks, so the next body wakes it. Bodies
// that did not fit in the ring arrive in messages (one string each, those of one turn of the main
// thread together). Replies carry the outcome, or the error classified here (toWire), and those
// ready in one turn of this thread leave together.
import { parentPort, workerData } from 'node:worker_threads';
import type { DynamoConnection } from './client.ts';
import { toWire } from './errors.ts';
import { createHttpTransport } from './dynamodb/http-transport.ts';
import type { HttpBatchTransport } from './dynamodb/http-transport.ts';
import { RequestRing } from './request-ring.ts';
import type { StoreReply, StoreRequests } from './worker-store.ts';

const { connection, tableName, env, ring: shared } = workerData as { connection: DynamoConnection; tableName: string; env: NodeJS.ProcessEnv; ring: SharedArrayBuffer };
const port = parentPort;
if (!port) throw new Error('store-worker.ts runs only as a worker thread');
const ring = new RequestRing(shared);
const transport = createHttpTransport(connection, tableName, env);
// Once the transport is up, requests go to it directly (no promise hop through `transport` each time).
let ready: HttpBatchTransport | undefined;
let inFlight = 0;

let replies: StoreReply[] = [];
const postReplies = (): void => {
  const list = replies;
  replies = [];
  port.postMessage(list);
};
const reply = (r: StoreReply): void => {
  if (replies.length === 0) setImmediate(postReplies);
  replies.push(r);
  inFlight--;
  takeFromRing();
  // Nothing in flight, nothing waiting: nothing will wake this thread but the broker.
  if (inFlight === 0 && !ring.park()) takeFromRing();
};

const send = (t: HttpBatchTransport, id: number, body: string | Uint8Array): void => {
  inFlight++;
  t.send(body).then(
    (outcome) => reply({ id, outcome }),
    (err: unknown) => reply({ id, error: toWire(err) }),
  );
};

function takeFromRing(): void {
  const t = ready;
  if (t !== undefined) ring.takeAll((id, body) => send(t, id, body));
}

const started = (t: HttpBatchTransport): void => {
  ready = t;
  takeFromRing();
  if (inFlight === 0 && !ring.park()) takeFromRing();
};
// A transport that could not start fails each request with the reason (classified like any other).
void transport.then(started, (err: unknown) => started({ tableName, send: () => Promise.reject(err), close: async () => undefined }));

port.on('message', (requests: StoreRequests) => {
  for (const request of requests) {
    if (ready) send(ready, request.id, request.body);
    else {
      inFlight++;
      transport.then((t) => t.send(request.body)).then(
        (outcome) => reply({ id: request.id, outcome }),
        (err: unknown) => reply({ id: request.id, error: toWire(err) }),
      );
    }
  }
  takeFromRing();
});
port.on('close', () => void transport.then((t) => t.close()));
