// Reference point "naive-putitem": the pipeline most people write first. aedes' authorizePublish
// parses the JSON and awaits one PutItem (lib-dynamodb PutCommand, SDK defaults) per message
// before letting the PUBACK go, so acks are durable too, but there is no batching. It writes to
// its own dynalite, started the way the service starts its embedded one (a child process running
// src/storage/embedded-server.cjs, data on disk), so the comparison with `pipeline-embedded` is
// like for like. Forked by bench/run.ts with the data directory as argument; reports over IPC.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { Aedes } from 'aedes';
import { onParent, toParent } from './ipc.ts';

const DYNALITE_CHILD = fileURLToPath(new URL('../src/storage/embedded-server.cjs', import.meta.url));
const TABLE = 'telemetry';
const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: naive-server.ts <data-dir>');

async function startDynalite(path: string): Promise<string> {
  mkdirSync(path, { recursive: true });
  // stdin is a pipe: the child exits when this process goes away, however it goes.
  const child = spawn(process.execPath, [DYNALITE_CHILD, '127.0.0.1', '0', path], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`dynalite exited with code ${code}`)));
  });
  const { port, error } = JSON.parse(line) as { port?: number; error?: string };
  if (port === undefined) throw new Error(`dynalite failed to start: ${error}`);
  return `http://127.0.0.1:${port}`;
}

async function createTable(client: DynamoDBClient): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: TABLE,
      KeySchema: [
        { AttributeName: 'deviceId', KeyType: 'HASH' },
        { AttributeName: 'ts', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'deviceId', AttributeType: 'S' },
        { AttributeName: 'ts', AttributeType: 'N' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  for (let i = 0; i < 100; i++) {
    const out = await client.send(new DescribeTableCommand({ TableName: TABLE }));
    if (out.Table?.TableStatus === 'ACTIVE') return;
    await sleep(50);
  }
  throw new Error(`table ${TABLE} did not become ACTIVE`);
}

try {
  const endpoint = await startDynalite(join(dataDir, 'dynalite'));
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const doc = DynamoDBDocumentClient.from(client);
  await createTable(client);

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
