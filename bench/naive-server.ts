// Reference point "naive-putitem": the pipeline most people write first. aedes' authorizePublish
// parses the JSON and awaits one PutItem (lib-dynamodb PutCommand, SDK defaults) per message
// before letting the PUBACK go, so acks are durable too, but there is no batching. It writes to
// its own dynalite, started the way the service starts its embedded one (a child process running
// src/storage/embedded-server.cjs, data on disk), so the comparison with `pipeline-embedded` is
// like for like. Forked by bench/run.ts with the data directory as argument; reports over IPC.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { Aedes } from 'aedes';
import { pino } from 'pino';
import { startEmbeddedDynamo } from '../src/storage/embedded.ts';
import { ensureTable, telemetryTableSpec } from '../src/storage/tables.ts';
import { onParent, toParent } from './ipc.ts';

const TABLE = 'telemetry';
const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: naive-server.ts <data-dir>');

try {
  const log = pino({ level: 'warn' });
  const { endpoint } = await startEmbeddedDynamo({ port: 0, dataDir, log });
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const doc = DynamoDBDocumentClient.from(client);
  await ensureTable(client, telemetryTableSpec(TABLE), { create: true, log });

  let received = 0;
  let stored = 0;
  let failed = 0;
  const broker = await Aedes.createBroker({
    authorizePublish: (client, packet, callback) => {
      if (client === null) return callback(null);
      received++;
      const deviceId = packet.topic.split('/')[1] ?? 'unknown';
      let reading: Record<string, unknown>;
      try {
        reading = JSON.parse(packet.payload.toString()) as Record<string, unknown>;
      } catch {
        return callback(null);
      }
      const receivedAt = Date.now();
      doc.send(new PutCommand({ TableName: TABLE, Item: { ...reading, deviceId, ts: reading.ts ?? receivedAt, receivedAt } })).then(
        () => {
          stored++;
          callback(null);
        },
        (err: Error) => {
          failed++;
          callback(err);
        },
      );
    },
  });
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    broker.handle(socket);
  });
  server.listen(0, '127.0.0.1', () => toParent({ type: 'ready', port: (server.address() as AddressInfo).port }));
  onParent((message) => {
    if (message.type === 'stats') toParent({ type: 'stats', stats: { received, stored, requests: stored + failed, failed } });
  });
} catch (err) {
  toParent({ type: 'error', message: (err as Error).message });
  process.exit(1);
}
