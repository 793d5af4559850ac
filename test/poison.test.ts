// One device's data never harms another's. A device sends readings that used to poison whole batches
// ({"a": 1e16} failed every batch it was in) and one that cannot be stored exactly (1e-400), beside
// three well-behaved devices over real MQTT into dynalite: 1e16 is stored exactly, 1e-400 is
// dead-lettered once with its own reason, and the others see no disconnect and lose nothing.
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynalite, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { metricValue, scanAll, scrape, startTestService } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

const MESSAGES_PER_DEVICE = 150;

describe('poison readings beside well-behaved devices', () => {
  let dynamo: DynamoServer;
  let svc: TestService;

  beforeAll(async () => {
    dynamo = await startDynalite();
    svc = await startTestService(dynamo.endpoint, { lingerMs: 5 });
  });
  afterAll(async () => {
    await svc?.stop();
    await dynamo?.stop();
  });

  it('dead-letters the poison reading exactly once; the others are all stored with no disconnect', async () => {
    const good: MqttClient[] = await Promise.all([0, 1, 2].map((i) => connectAsync(svc.mqttUrl, { clientId: `good-${i}`, reconnectPeriod: 0 })));
    const poison = await connectAsync(svc.mqttUrl, { clientId: 'poison', reconnectPeriod: 0 });
    let closes = 0;
    for (const c of [...good, poison]) c.on('close', () => closes++);
    const ts = Date.now() - 60_000;
    try {
      const goodTraffic = good.map(async (c, d) => {
        for (let n = 0; n < MESSAGES_PER_DEVICE; n++) await c.publishAsync(`devices/good-${d}/telemetry`, JSON.stringify({ ts: ts + n, v: n }), { qos: 1 });
      });
      // Interleaved with the good traffic: the former poison (stored exactly now) and a true one.
      const poisonTraffic = (async () => {
        for (let n = 0; n < 20; n++) await poison.publishAsync('devices/poison/telemetry', `{"ts": ${ts + n}, "a": 1e16, "counter": 18014398509481984}`, { qos: 1 });
        await poison.publishAsync('devices/poison/telemetry', `{"ts": ${ts + 100}, "a": 1e-400}`, { qos: 1 });
      })();
      await Promise.all([...goodTraffic, poisonTraffic]);
      expect(closes).toBe(0);
    } finally {
      await Promise.all([...good, poison].map((c) => c.endAsync()));
    }

    const items = await scanAll(svc.clients.doc, svc.config.tableName);
    for (let d = 0; d < 3; d++) {
      const mine = items.filter((i) => i.deviceId === `good-${d}`);
      expect(mine).toHaveLength(MESSAGES_PER_DEVICE);
      expect(new Set(mine.map((i) => i.v)).size).toBe(MESSAGES_PER_DEVICE);
    }
    const poisonItems = items.filter((i) => i.deviceId === 'poison');
    expect(poisonItems).toHaveLength(20);
    for (const i of poisonItems) expect(i).toMatchObject({ a: 1e16, counter: 18014398509481984 });

    await waitFor(async () => (await scanAll(svc.clients.doc, svc.config.dlqTableName)).length === 1 || undefined, { timeoutMs: 5_000 });
    const dlq = await scanAll(svc.clients.doc, svc.config.dlqTableName);
    expect(dlq).toHaveLength(1);
    expect(dlq[0]).toMatchObject({ deviceId: 'poison', reason: 'inexact_number' });
    expect(String(dlq[0]?.errorMessage)).toMatch(/1e-400/);

    const text = await scrape(svc.httpUrl);
    expect(metricValue(text, 'iot_ingest_invalid_messages_total', { reason: 'inexact_number' })).toBe(1);
    expect(metricValue(text, 'iot_ingest_dead_lettered_total', { reason: 'rejected_by_store' })).toBe(0);
    for (const reason of ['store_failed', 'overloaded', 'error']) expect(metricValue(text, 'iot_ingest_disconnects_total', { reason })).toBe(0);
    expect(metricValue(text, 'iot_ingest_readings_stored_total')).toBe(3 * MESSAGES_PER_DEVICE + 20);
    // Exact message counts: a counter counted twice (or not at all) shows here.
    expect(metricValue(text, 'iot_ingest_messages_received_total', { result: 'stored' })).toBe(3 * MESSAGES_PER_DEVICE + 20);
    expect(metricValue(text, 'iot_ingest_messages_received_total', { result: 'invalid' })).toBe(1);
    expect(metricValue(text, 'iot_ingest_messages_received_total', { result: 'failed' })).toBe(0);
  });
});
