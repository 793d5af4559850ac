// Fault injection through a real HTTP proxy in front of dynalite: UnprocessedItems, throttling,
// 500s, a 10 s outage and a batch DynamoDB refuses. Every acknowledged reading must end up stored,
// once per key, and nothing may be left in the queue.
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/dynamo-servers.ts';
import type { FaultProxy } from './helpers/fault-proxy.ts';
import { startFaultedService } from './helpers/faulted-service.ts';
import type { FaultedService } from './helpers/faulted-service.ts';
import { metricValue, scanAll, scrape } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

interface Acked {
  deviceId: string;
  ts: number;
  seq: number;
}

/** `devices` mqtt.js devices each publish `perDevice` QoS 1 readings; returns what got a PUBACK. */
async function publishFleet(url: string, prefix: string, devices: number, perDevice: number): Promise<Acked[]> {
  const base = Date.now() - 3_600_000;
  const acked: Acked[] = [];
  const clients: MqttClient[] = [];
  try {
    await Promise.all(
      Array.from({ length: devices }, async (_, d) => {
        const deviceId = `${prefix}-${d}`;
        const c = await connectAsync(url, { clientId: deviceId, reconnectPeriod: 0 });
        clients.push(c);
        await Promise.all(
          Array.from({ length: perDevice }, async (_, i) => {
            await c.publishAsync(`devices/${deviceId}/telemetry`, JSON.stringify({ ts: base + i, seq: i, d }), { qos: 1 });
            acked.push({ deviceId, ts: base + i, seq: i });
          }),
        );
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true)));
  }
  return acked;
}

async function expectAllStored(svc: TestService, acked: Acked[], prefix: string): Promise<void> {
  const items = (await scanAll(svc.clients.doc, svc.config.tableName)).filter((i) => String(i.deviceId).startsWith(`${prefix}-`));
  const keys = new Set(items.map((i) => `${String(i.deviceId)}/${String(i.ts)}`));
  expect(keys.size).toBe(items.length); // once per key
  const missing = acked.filter((a) => !keys.has(`${a.deviceId}/${a.ts}`));
  expect(missing).toEqual([]);
  // Each key holds the reading that was published under it.
  const seqByKey = new Map(acked.map((a) => [`${a.deviceId}/${a.ts}`, a.seq]));
  for (const i of items) expect(i.seq).toBe(seqByKey.get(`${String(i.deviceId)}/${String(i.ts)}`));
}

describe('fault injection', () => {
  let env: FaultedService | undefined;
  let proxy: FaultProxy;
  let svc: TestService;

  beforeAll(async () => {
    env = await startFaultedService({ writeTimeoutMs: 60_000, requestTimeoutMs: 2_000 });
    ({ proxy, svc } = env);
  });
  afterEach(() => {
    proxy.setFaults({});
    proxy.resetStats();
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('resends UnprocessedItems, retries throttling and 500s, and stores every acknowledged reading', async () => {
    proxy.setFaults({ unprocessedShare: 0.3, throttleShare: 0.2, serverErrorShare: 0.1 });
    const acked = await publishFleet(svc.mqttUrl, 'mixed', 8, 60);
    expect(acked).toHaveLength(480);
    expect(proxy.stats.itemsUnprocessed).toBeGreaterThan(0);
    expect(proxy.stats.faults.throttle).toBeGreaterThan(0);
    expect(proxy.stats.faults.serverError).toBeGreaterThan(0);
    await expectAllStored(svc, acked, 'mixed');

    const text = await scrape(svc.httpUrl);
    expect(metricValue(text, 'iot_ingest_unprocessed_items_total')).toBe(proxy.stats.itemsUnprocessed);
    expect(metricValue(text, 'iot_ingest_write_retries_total', { reason: 'unprocessed' })).toBeGreaterThan(0);
    expect(metricValue(text, 'iot_ingest_write_retries_total', { reason: 'throttled' })).toBeGreaterThan(0);
    expect(metricValue(text, 'iot_ingest_write_retries_total', { reason: 'server_error' })).toBeGreaterThan(0);
    expect(metricValue(text, 'iot_ingest_dynamodb_throttles_total')).toBe(proxy.stats.faults.throttle);
    expect(metricValue(text, 'iot_ingest_dynamodb_errors_total', { code: 'InternalServerError' })).toBe(proxy.stats.faults.serverError);
    expect(metricValue(text, 'iot_ingest_queue_readings')).toBe(0);
    expect(metricValue(text, 'iot_ingest_inflight_batches')).toBe(0);
  });

  it('holds devices through a 10 s outage and stores everything once it ends', async () => {
    proxy.setFaults({ outage: true });
    const publishing = publishFleet(svc.mqttUrl, 'outage', 5, 40);
    // While DynamoDB is unreachable nothing is acknowledged and the readings wait in the queue.
    await waitFor(async () => metricValue(await scrape(svc.httpUrl), 'iot_ingest_queue_readings') > 0, { message: 'readings queued during the outage' });
    await new Promise((r) => setTimeout(r, 10_000));
    const during = await scrape(svc.httpUrl);
    expect(metricValue(during, 'iot_ingest_write_retries_total', { reason: 'network' })).toBeGreaterThan(0);
    expect(metricValue(during, 'iot_ingest_held_publishes')).toBeGreaterThan(0);
    proxy.setFaults({});
    const acked = await publishing;
    expect(acked).toHaveLength(200);
    await expectAllStored(svc, acked, 'outage');
    expect(metricValue(await scrape(svc.httpUrl), 'iot_ingest_queue_readings')).toBe(0);
  }, 60_000);

  it('narrows a refused batch down to the one bad reading, dead-letters it and stores the rest', async () => {
    proxy.setFaults({ rejectBodyContaining: 'poison-marker' });
    const c = await connectAsync(svc.mqttUrl, { clientId: 'narrow', reconnectPeriod: 0 });
    const base = Date.now() - 1_000;
    const readings = Array.from({ length: 20 }, (_, i) => ({ ts: base + i, note: i === 13 ? 'poison-marker' : `fine-${i}` }));
    await c.publishAsync('devices/narrow/telemetry', JSON.stringify(readings), { qos: 1 });
    await c.endAsync();
    const stored = (await scanAll(svc.clients.doc, svc.config.tableName)).filter((i) => i.deviceId === 'narrow');
    expect(stored.map((i) => i.note).sort()).toEqual(readings.filter((_, i) => i !== 13).map((r) => r.note).sort());
    const dlq = (await scanAll(svc.clients.doc, svc.config.dlqTableName)).filter((i) => i.deviceId === 'narrow');
    expect(dlq).toHaveLength(1);
    expect(dlq[0]?.reason).toBe('rejected_by_store');
    expect(JSON.parse(Buffer.from(String(dlq[0]?.base64OriginalPayload), 'base64').toString())).toEqual({ ts: base + 13, note: 'poison-marker' });
    expect(metricValue(await scrape(svc.httpUrl), 'iot_ingest_dead_lettered_total', { reason: 'rejected_by_store' })).toBe(1);
  });
});
