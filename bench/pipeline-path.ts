// `node --import tsx bench/pipeline-path.ts [--messages N] [--devices D] [--window W] [--rounds R]`:
// CPU per message of the pipeline's own main-thread path, with no broker, no socket and no store:
// the publish hook (topic right, decode, rate step, batcher, PUBACK release), the DynamoDB sink
// (items in wire JSON, the request body) and the stored-readings tap, with the service's default
// settings and metrics. A transport stands in for the writer thread and answers each request on
// the next turn. D devices keep W messages each in flight (a new one for each PUBACK), the bench's
// payload with a fresh ts; the figure is the process's CPU time over the messages, so that changes
// to these parts can be compared between revisions on one thread, away from the broker's cost and
// from the second core's other work (the service benchmarks move ±15 % run to run on this machine).
import { parseArgs } from 'node:util';
import type { Client, PublishPacket } from 'aedes';
import { setIdentity } from '../src/broker/acl.ts';
import { DeviceRateLimiter } from '../src/broker/limits/device-rate.ts';
import { createLimitMetrics } from '../src/broker/limits/limit-metrics.ts';
import { createRateStep } from '../src/broker/limits/rate-step.ts';
import { createPublishHook } from '../src/broker/publish-hook.ts';
import { serveConfigSchema } from '../src/config/schema.ts';
import { Batcher } from '../src/ingest/batcher.ts';
import type { DeadLetterWriter } from '../src/ingest/dead-letter.ts';
import { tapStored } from '../src/live/stored-tap.ts';
import { createMetrics } from '../src/metrics/registry.ts';
import { DynamoDbSink } from '../src/storage/dynamodb/sink.ts';
import type { BatchTransport } from '../src/storage/dynamodb/transport.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '400000' },
    devices: { type: 'string', default: '200' },
    window: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
  },
});
const MESSAGES = Number(values.messages);
const DEVICES = Number(values.devices);
const WINDOW = Number(values.window);

const PAYLOAD = '{"ts":1732480000123,"temperature":21.47,"humidity":40.12,"battery":87,"rssi":-67,"firmware":"2.4.1","mode":"heat","setpoint":21.5,"heating":true,"status":"ok"}';
const TS_AT = PAYLOAD.indexOf('1732480000123');

const config = serveConfigSchema.parse({});
const metrics = createMetrics({ defaultMetrics: false });
let requests = 0;
// Stands in for the threaded transport, which posts the body to the writer thread: the answer comes
// on a later turn.
const transport: BatchTransport = {
  tableName: config.tableName,
  send(body) {
    requests++;
    return new Promise((resolve) => setImmediate(() => resolve({ unprocessedKeys: [], consumedCapacityUnits: body.length > 0 ? 25 : 0 })));
  },
  close: async () => undefined,
};
const sink = tapStored(new DynamoDbSink(transport, metrics, { retentionDays: config.retentionDays, writeTimeoutMs: config.writeTimeoutMs }), () => undefined);
const batcher = new Batcher(config, sink, metrics, async () => undefined);
const limitMetrics = createLimitMetrics(metrics.registry, () => new Map());
const rateStep = createRateStep(new DeviceRateLimiter({ maxMessagesPerSecond: 1e9, maxReadingsPerSecond: 1e9, maxRateHoldMs: 1_000 }), limitMetrics);
const deadLetter = {} as DeadLetterWriter; // every bench payload is valid
const hook = createPublishHook({ ackMode: 'durable', limits: config, batcher, deadLetter, metrics, markDisconnectReason: () => undefined, rateStep });

interface Device {
  readonly client: Client;
  readonly topic: string;
  ts: number;
  messageId: number;
}
const devices: Device[] = Array.from({ length: DEVICES }, (_, i) => {
  const client = { id: `bench-${i}` } as Client;
  setIdentity(client, { role: 'device', id: client.id, via: 'client_id' });
  return { client, topic: `devices/${client.id}/telemetry`, ts: 1_732_480_000_000 + i * 1_000_000, messageId: 0 };
});

function payloadFor(device: Device): Buffer {
  const bytes = Buffer.from(PAYLOAD, 'latin1');
  bytes.write(String(device.ts++), TS_AT, 'latin1');
  return bytes;
}

async function round(): Promise<{ usPerMessage: number; perRequest: number }> {
  let sent = 0;
  let acked = 0;
  requests = 0;
  const started = process.cpuUsage();
  await new Promise<void>((done) => {
    const publish = (device: Device): void => {
      if (sent >= MESSAGES) return;
      sent++;
      device.messageId = (device.messageId % 65_535) + 1;
      const packet = { cmd: 'publish', topic: device.topic, payload: payloadFor(device), qos: 1, retain: false, dup: false, messageId: device.messageId } as PublishPacket;
      hook(device.client, packet, (err) => {
        if (err) throw err;
        if (++acked === MESSAGES) done();
        else publish(device);
      });
    };
    for (let w = 0; w < WINDOW; w++) for (const d of devices) publish(d);
  });
  const cpu = process.cpuUsage(started);
  return { usPerMessage: (cpu.user + cpu.system) / MESSAGES, perRequest: MESSAGES / requests };
}

for (let r = 0; r < Number(values.rounds); r++) {
  const { usPerMessage, perRequest } = await round();
  process.stdout.write(`round ${r + 1}: ${usPerMessage.toFixed(2)} µs CPU per message (${MESSAGES} messages, ${perRequest.toFixed(1)} per request)\n`);
}
await sink.shutdown();
