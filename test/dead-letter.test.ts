// The dead-letter never loses a record it counts: payloads too large for an item are kept as a
// preview plus size and SHA-256 and read back; an outage of the dead-letter table (PutItem failing
// through the fault proxy) is retried until it ends, and every counted record is in the table; a
// record DynamoDB refuses for good is counted apart and logged as one line without its payload;
// the log stays small however many payload bytes go by.
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveConfigSchema } from '../src/config/schema.ts';
import type { ServeConfig } from '../src/config/schema.ts';
import { DeadLetterWriter } from '../src/ingest/dead-letter.ts';
import { PAYLOAD_PREVIEW_BYTES } from '../src/ingest/dead-letter-record.ts';
import { createMetrics } from '../src/metrics/registry.ts';
import { startService } from '../src/service.ts';
import type { RunningService } from '../src/service.ts';
import { createDynamoClients } from '../src/storage/client.ts';
import type { DynamoClients } from '../src/storage/client.ts';
import { randomTableName, startDynalite, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { startFaultProxy } from './helpers/fault-proxy.ts';
import type { FaultProxy } from './helpers/fault-proxy.ts';
import { metricValue, scanAll, scrape } from './helpers/service.ts';

const MiB = 1024 * 1024;

/** A payload that is not JSON (decoding stops at its first byte), `size` bytes long. */
function invalidPayload(size: number, seed: string): Buffer {
  const b = Buffer.alloc(size, 0x78);
  b.write(`not json ${seed} `, 0);
  return b;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('dead-letter', () => {
  let dynamo: DynamoServer;
  let proxy: FaultProxy;
  let service: RunningService;
  let config: ServeConfig;
  let clients: DynamoClients;
  let httpUrl: string;
  let logBytes = 0;
  const logLines: string[] = [];
  const devices: MqttClient[] = [];

  beforeAll(async () => {
    dynamo = await startDynalite();
    proxy = await startFaultProxy(dynamo.endpoint);
    config = serveConfigSchema.parse({
      mqttHost: '127.0.0.1',
      mqttPort: 0,
      httpHost: '127.0.0.1',
      httpPort: 0,
      dynamodbEndpoint: proxy.endpoint,
      tableName: randomTableName('telemetry'),
      dlqTableName: randomTableName('dlq'),
      // Large enough for the 16 MiB payload to reach decoding (and the dead-letter).
      maxPayloadBytes: 32 * MiB,
      maxQueuedBytes: 64 * MiB,
      deadLetterMaxInflight: 64,
      logLevel: 'info',
    });
    const sink = new Writable({
      write(chunk: Buffer, _enc, done): void {
        logBytes += chunk.length;
        logLines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
        done();
      },
    });
    service = await startService(config, { log: pino({ level: 'info' }, sink) });
    httpUrl = `http://127.0.0.1:${service.httpPort}`;
    clients = createDynamoClients({ endpoint: dynamo.endpoint, region: config.region });
  });
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.endAsync(true).catch(() => undefined)));
    await service?.stop();
    clients?.destroy();
    await proxy?.stop();
    await dynamo?.stop();
  });

  const device = async (id: string): Promise<MqttClient> => {
    const c = await connectAsync(`mqtt://127.0.0.1:${service.mqttPort}`, { clientId: id, reconnectPeriod: 0 });
    devices.push(c);
    return c;
  };
  const dlqRecords = async (deviceId: string): Promise<Record<string, unknown>[]> =>
    (await scanAll(clients.doc, config.dlqTableName)).filter((r) => r.deviceId === deviceId);

  it('keeps 1 MiB and 16 MiB invalid payloads as preview + size + SHA-256, read back from the table', async () => {
    const c = await device('dl-huge');
    const payloads = [invalidPayload(1 * MiB, 'one'), invalidPayload(16 * MiB, 'sixteen'), invalidPayload(2_000, 'small')];
    for (const p of payloads) await c.publishAsync('devices/dl-huge/telemetry', p, { qos: 1 }); // PUBACK: written

    const records = await dlqRecords('dl-huge');
    expect(records).toHaveLength(3);
    const bySize = new Map(records.map((r) => [r.payloadSizeBytes, r]));
    for (const p of payloads.slice(0, 2)) {
      const r = bySize.get(p.length) as Record<string, unknown>;
      expect(r).toBeDefined();
      expect(r.reason).toBe('malformed_json');
      expect(r.payloadTruncated).toBe(true);
      expect(r.payloadSha256).toBe(sha256(p));
      expect(r.base64OriginalPayload).toBeUndefined();
      expect(Buffer.from(r.base64PayloadPreview as string, 'base64').equals(p.subarray(0, PAYLOAD_PREVIEW_BYTES))).toBe(true);
    }
    // A payload that fits an item is kept whole.
    const small = bySize.get(2_000) as Record<string, unknown>;
    expect(small.payloadTruncated).toBe(false);
    expect(Buffer.from(small.base64OriginalPayload as string, 'base64').equals(payloads[2] as Buffer)).toBe(true);
    expect(small.payloadSha256).toBe(sha256(payloads[2] as Buffer));

    const text = await scrape(httpUrl);
    expect(metricValue(text, 'iot_ingest_dead_letter_truncated_total')).toBe(2);
    expect(metricValue(text, 'iot_ingest_dead_lettered_total', { reason: 'malformed_json' })).toBe(3);
    expect(metricValue(text, 'iot_ingest_dead_letter_write_failures_total')).toBe(0);
  });

  it('loses no counted record through a dead-letter table outage; a record refused for good is counted apart, logged without payload', async () => {
    const before = await scrape(httpUrl);
    const dlBefore = metricValue(before, 'iot_ingest_dead_lettered_total');
    // A well-behaved device keeps publishing valid readings throughout (BatchWriteItem is not hit).
    const good = await device('dl-good');
    const base = Date.now() - 60_000;
    let goodSent = 0;
    const goodAcks: Promise<unknown>[] = [];
    const goodTimer = setInterval(() => {
      const i = goodSent++;
      goodAcks.push(good.publishAsync('devices/dl-good/telemetry', JSON.stringify({ ts: base + i, v: i }), { qos: 1 }));
    }, 20);

    // Outage of the dead-letter table: every PutItem answers 500.
    proxy.resetStats();
    proxy.setFaults({ operations: ['PutItem'], serverErrorShare: 1 });
    const bad = await Promise.all([0, 1, 2, 3].map((d) => device(`dl-out-${d}`)));
    const QOS1_PER_DEVICE = 5;
    const QOS0_PER_DEVICE = 3;
    const acks: Promise<unknown>[] = [];
    bad.forEach((c, d) => {
      for (let i = 0; i < QOS1_PER_DEVICE; i++) acks.push(c.publishAsync(`devices/dl-out-${d}/telemetry`, invalidPayload(200_000 + i, `q1-${d}-${i}`), { qos: 1 }));
      for (let i = 0; i < QOS0_PER_DEVICE; i++) c.publish(`devices/dl-out-${d}/telemetry`, invalidPayload(300_000 + i, `q0-${d}-${i}`), { qos: 0 });
    });
    const expected = bad.length * (QOS1_PER_DEVICE + QOS0_PER_DEVICE);
    // Every record has been tried and refused at least twice (retrying), none counted as written.
    await waitFor(() => proxy.stats.faults.serverError >= 2 * expected, { timeoutMs: 20_000, message: 'dead-letter writes retried during the outage' });
    let settled = 0;
    for (const a of acks) void a.then(() => settled++);
    const during = await scrape(httpUrl);
    expect(metricValue(during, 'iot_ingest_dead_lettered_total') - dlBefore).toBe(0);
    expect(settled).toBe(0); // durable: the PUBACK waits for the dead-letter record
    proxy.setFaults({});
    await Promise.all(acks);

    const after = await waitFor(
      async () => {
        const t = await scrape(httpUrl);
        return metricValue(t, 'iot_ingest_dead_lettered_total') - dlBefore === expected ? t : undefined;
      },
      { timeoutMs: 20_000, message: 'every record of the outage written' },
    );
    expect(metricValue(after, 'iot_ingest_dead_letter_write_failures_total')).toBe(0);
    const stored = (await scanAll(clients.doc, config.dlqTableName)).filter((r) => String(r.deviceId).startsWith('dl-out-'));
    expect(stored).toHaveLength(expected);

    // A record DynamoDB refuses for good (ValidationException, not retriable): counted apart,
    // one log line without the payload, the device still acknowledged.
    proxy.setFaults({ operations: ['PutItem'], rejectBodyContaining: 'dl-refused' });
    const refused = await device('dl-refused');
    await refused.publishAsync('devices/dl-refused/telemetry', invalidPayload(1 * MiB, 'refused'), { qos: 1 });
    proxy.setFaults({});
    const final = await scrape(httpUrl);
    expect(metricValue(final, 'iot_ingest_dead_letter_write_failures_total')).toBe(1);
    expect(metricValue(final, 'iot_ingest_dead_lettered_total') - dlBefore).toBe(expected);
    expect(await dlqRecords('dl-refused')).toHaveLength(0);
    const failureLines = logLines.filter((l) => l.includes('dead-letter record could not be written'));
    expect(failureLines).toHaveLength(1);
    expect(JSON.parse(failureLines[0] as string)).toMatchObject({ deviceId: 'dl-refused', payloadSizeBytes: MiB, errorName: 'ValidationException' });

    clearInterval(goodTimer);
    await Promise.all(goodAcks);
    const goodStored = (await scanAll(clients.doc, config.tableName)).filter((r) => r.deviceId === 'dl-good');
    expect(goodStored).toHaveLength(goodSent);
  });

  it('bounds writes in flight: QoS 1 records wait for a slot, a QoS 0 record is dropped and counted', async () => {
    proxy.setFaults({ operations: ['PutItem'], delayMs: 300 });
    const metrics = createMetrics({ defaultMetrics: false });
    const proxied = createDynamoClients({ endpoint: proxy.endpoint, region: config.region });
    const writer = new DeadLetterWriter(proxied.doc, { tableName: config.dlqTableName, retentionDays: undefined, maxInflight: 2, retryBudgetMs: 10_000 }, metrics, pino({ level: 'silent' }));
    try {
      const input = (i: number, qos: number): Parameters<DeadLetterWriter['write']>[0] => ({
        deviceId: 'dl-bound', topic: 'devices/dl-bound/telemetry', clientId: 'dl-bound', reason: 'malformed_json',
        errorMessage: 'not JSON', payload: Buffer.from(`bad ${i}`), receivedAt: Date.now(), qos,
      });
      const tickets = [0, 1, 2, 3, 4].map((i) => writer.write(input(i, 1)));
      let admitted = 0;
      tickets.forEach((t) => void t.admitted.then(() => admitted++));
      await Promise.resolve();
      await Promise.resolve();
      expect(admitted).toBe(2); // two slots: three QoS 1 records wait
      const gauges = await metrics.registry.metrics();
      expect(metricValue(gauges, 'iot_ingest_dead_letter_writes_inflight')).toBe(2);
      expect(metricValue(gauges, 'iot_ingest_dead_letter_writes_waiting')).toBe(3);
      const q0 = writer.write(input(5, 0)); // no slot: dropped at once
      await q0.settled;
      expect(metricValue(await metrics.registry.metrics(), 'iot_ingest_dead_letter_dropped_total', { reason: 'overloaded' })).toBe(1);
      await Promise.all(tickets.map((t) => t.settled));
      expect(admitted).toBe(5);
      const after = await metrics.registry.metrics();
      expect(metricValue(after, 'iot_ingest_dead_lettered_total', { reason: 'malformed_json' })).toBe(5);
      expect(metricValue(after, 'iot_ingest_dead_letter_writes_inflight')).toBe(0);
      expect(await dlqRecords('dl-bound')).toHaveLength(5);
    } finally {
      proxy.setFaults({});
      await writer.flush();
      proxied.destroy();
    }
  });

  it('keeps the log small: about 20 MiB of invalid payloads went by, the log holds no payload', () => {
    // 17 MiB + 2 KB in the first test, 4 x (5 x 200 KB + 3 x 300 KB) + 1 MiB in the second.
    expect(logBytes).toBeLessThan(16 * 1024);
    for (const line of logLines) expect(line.length).toBeLessThan(2_048);
  });
});
