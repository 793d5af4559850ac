// Bad input gets its documented outcome and a metric, and loses nothing else: invalid payloads are
// acknowledged and dead-lettered with the original bytes; a publish outside the telemetry topics
// closes that connection; a well-behaved device is served throughout.
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynalite, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { metricValue, scanAll, scrape, startTestService } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

describe('bad input', () => {
  let dynamo: DynamoServer;
  let svc: TestService;
  let good: MqttClient;
  let goodSent = 0;
  let goodAcked = 0;
  let goodTimer: NodeJS.Timeout;
  const goodBase = Date.now() - 600_000;

  beforeAll(async () => {
    dynamo = await startDynalite();
    svc = await startTestService(dynamo.endpoint, { maxReadingsPerMessage: 50 });
    // A well-behaved device publishes every 20 ms during the whole suite.
    good = await connectAsync(svc.mqttUrl, { clientId: 'good-device', reconnectPeriod: 0 });
    goodTimer = setInterval(() => {
      const i = goodSent++;
      good.publish('devices/good-device/telemetry', JSON.stringify({ ts: goodBase + i, i }), { qos: 1 }, (err) => {
        if (!err) goodAcked++;
      });
    }, 20);
  });
  afterAll(async () => {
    clearInterval(goodTimer);
    await good?.endAsync(true);
    await svc?.stop();
    await dynamo?.stop();
  });

  const now = Date.now();
  const cases: [string, string | Buffer, string][] = [
    ['malformed JSON', '{"ts": 17, "temperature": ', 'malformed_json'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), 'malformed_json'],
    ['a JSON number', '42', 'invalid_shape'],
    ['wrong ts type', JSON.stringify({ ts: true, temperature: 1 }), 'invalid_ts'],
    ['ts in seconds', JSON.stringify({ ts: Math.floor(now / 1000), temperature: 1 }), 'invalid_ts'],
    ['a reserved attribute', JSON.stringify({ ts: now, deviceId: 'someone-else', temperature: 1 }), 'reserved_attribute'],
    ['a bad attribute name', JSON.stringify({ ts: now, 'temp erature': 1 }), 'invalid_attribute_name'],
    ['a number DynamoDB cannot hold', JSON.stringify({ ts: now, big: 1e200 }), 'invalid_value'],
    ['too many readings', JSON.stringify(Array.from({ length: 51 }, (_, i) => ({ ts: now - i, v: i }))), 'too_many_readings'],
    ['a reading from the future', JSON.stringify({ ts: now + 3_600_000, temperature: 1 }), 'future_ts'],
    ['an oversized payload', JSON.stringify({ ts: now, blob: 'x'.repeat(140 * 1024) }), 'payload_too_large'],
    ['a reading without attributes', JSON.stringify({ ts: now }), 'empty_reading'],
  ];

  it.each(cases)('%s is acknowledged, dead-lettered with its bytes and counted', async (_label, payload, reason) => {
    const deviceId = `bad-${reason}-${Math.random().toString(36).slice(2, 8)}`;
    const before = metricValue(await scrape(svc.httpUrl), 'iot_ingest_invalid_messages_total', { reason });
    const c = await connectAsync(svc.mqttUrl, { clientId: deviceId, reconnectPeriod: 0 });
    await c.publishAsync(`devices/${deviceId}/telemetry`, payload, { qos: 1 }); // PUBACK arrives
    expect(c.connected).toBe(true);
    await c.endAsync();

    const text = await scrape(svc.httpUrl);
    expect(metricValue(text, 'iot_ingest_invalid_messages_total', { reason })).toBe(before + 1);
    const dlq = (await scanAll(svc.clients.doc, svc.config.dlqTableName)).filter((r) => r.deviceId === deviceId);
    expect(dlq).toHaveLength(1);
    expect(dlq[0]).toMatchObject({ reason, topic: `devices/${deviceId}/telemetry`, clientId: deviceId, qos: 1 });
    expect(String(dlq[0]?.errorMessage).length).toBeGreaterThan(10);
    expect(Buffer.from(String(dlq[0]?.base64OriginalPayload), 'base64').equals(Buffer.from(payload))).toBe(true);
    // Nothing of an invalid message is stored.
    expect((await scanAll(svc.clients.doc, svc.config.tableName)).filter((i) => i.deviceId === deviceId)).toEqual([]);
  });

  it('closes the connection of a device publishing outside the telemetry topics, and counts it', async () => {
    const before = await scrape(svc.httpUrl);
    const c = await connectAsync(svc.mqttUrl, { clientId: 'wrong-topic', reconnectPeriod: 0 });
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    c.publish('devices/wrong-topic/commands', JSON.stringify({ ts: Date.now(), v: 1 }), { qos: 1 });
    await closed;
    const text = await scrape(svc.httpUrl);
    expect(metricValue(text, 'iot_ingest_messages_received_total', { result: 'forbidden' })).toBe(
      metricValue(before, 'iot_ingest_messages_received_total', { result: 'forbidden' }) + 1,
    );
    await waitFor(async () => metricValue(await scrape(svc.httpUrl), 'iot_ingest_client_disconnects_total', { reason: 'forbidden' }) >= 1, {
      message: 'disconnect counted as forbidden',
    });
    await c.endAsync(true);
  });

  it('kept serving the well-behaved device throughout', async () => {
    const sentSoFar = goodSent;
    await waitFor(() => goodAcked >= sentSoFar, { message: 'all of the good device\'s readings acknowledged' });
    expect(good.connected).toBe(true);
    const stored = (await scanAll(svc.clients.doc, svc.config.tableName)).filter((i) => i.deviceId === 'good-device');
    expect(stored.length).toBeGreaterThanOrEqual(sentSoFar);
    expect(sentSoFar).toBeGreaterThan(10);
  });
});

describe('backpressure and ack modes', () => {
  let dynamo: DynamoServer;

  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    await dynamo?.stop();
  });

  it('holds devices when the queue is full instead of dropping, and stores everything (received mode)', async () => {
    const svc = await startTestService(dynamo.endpoint, {
      ackMode: 'received',
      maxQueuedReadings: 60,
      maxReadingsPerMessage: 10,
      maxQueuedBytes: 1024 * 1024,
      maxPayloadBytes: 64 * 1024,
      writeConcurrency: 1,
      batchSize: 5,
      lingerMs: 0,
    });
    try {
      const base = Date.now() - 60_000;
      let maxQueue = 0;
      const sampler = setInterval(() => {
        void scrape(svc.httpUrl).then((t) => (maxQueue = Math.max(maxQueue, metricValue(t, 'iot_ingest_queue_readings'))));
      }, 10);
      const devices = await Promise.all(Array.from({ length: 8 }, (_, d) => connectAsync(svc.mqttUrl, { clientId: `bp-${d}`, reconnectPeriod: 0 })));
      await Promise.all(
        devices.map((c, d) =>
          Promise.all(Array.from({ length: 40 }, (_, i) => c.publishAsync(`devices/bp-${d}/telemetry`, JSON.stringify([{ ts: base + i * 2, v: i }, { ts: base + i * 2 + 1, v: i }]), { qos: 1 }))),
        ),
      );
      clearInterval(sampler);
      await waitFor(async () => (await scanAll(svc.clients.doc, svc.config.tableName)).length === 8 * 40 * 2, { timeoutMs: 30_000, message: 'all 640 readings stored' });
      const text = await scrape(svc.httpUrl);
      expect(metricValue(text, 'iot_ingest_backpressure_waits_total')).toBeGreaterThan(0);
      expect(metricValue(text, 'iot_ingest_messages_received_total', { result: 'limited' })).toBe(0);
      expect(maxQueue).toBeLessThanOrEqual(60);
      await Promise.all(devices.map((c) => c.endAsync()));
    } finally {
      await svc.stop();
    }
  });
});
