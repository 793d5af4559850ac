// Adaptive write concurrency through the real fault proxy: while DynamoDB throttles, the limit
// (iot_ingest_write_concurrency_limit) falls towards its floor; once throttling stops it grows back
// to its ceiling. Nothing acknowledged is lost meanwhile.
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/dynamo-servers.ts';
import type { FaultProxy } from './helpers/fault-proxy.ts';
import { startFaultedService } from './helpers/faulted-service.ts';
import type { FaultedService } from './helpers/faulted-service.ts';
import { metricValue, scanAll, scrape } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

/**
 * QoS 1 readings of one device, `window` in flight, until `keepGoing` says stop, 5,000 are sent or
 * 60 s pass; `onSent` counts each one. Resolves once every sent one is acknowledged.
 */
async function publishBounded(client: MqttClient, deviceId: string, ts: number, window: number, keepGoing: () => boolean, onSent: () => void): Promise<void> {
  const deadline = Date.now() + 60_000;
  const inflight = new Set<Promise<unknown>>();
  for (let n = 0; keepGoing() && n < 5_000 && Date.now() < deadline; n++) {
    const p: Promise<unknown> = client.publishAsync(`devices/${deviceId}/telemetry`, JSON.stringify({ ts: ts + n, v: n }), { qos: 1 }).then((): boolean => inflight.delete(p));
    inflight.add(p);
    onSent();
    if (inflight.size >= window) await Promise.race(inflight);
  }
  await Promise.all(inflight);
}

describe('adaptive write concurrency (AIMD)', () => {
  let env: FaultedService | undefined;
  let proxy: FaultProxy;
  let svc: TestService;

  beforeAll(async () => {
    env = await startFaultedService({ writeConcurrency: 8, writeConcurrencyMin: 1, batchSize: 5, lingerMs: 2 });
    ({ proxy, svc } = env);
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('falls while DynamoDB throttles and recovers when it stops', async () => {
    const limit = async (): Promise<number> => metricValue(await scrape(svc.httpUrl), 'iot_ingest_write_concurrency_limit');
    expect(await limit()).toBe(8);
    const devices = await Promise.all([0, 1, 2, 3].map((i) => connectAsync(svc.mqttUrl, { clientId: `aimd-${i}`, reconnectPeriod: 0 })));
    const ts = Date.now() - 600_000;
    let stop = false;
    let sent = 0;
    // Bounded load: at most 20,000 messages or 60 s, 10 in flight per device.
    const load = devices.map((c, d) => publishBounded(c, `aimd-${d}`, ts, 10, () => !stop, () => sent++));
    try {
      proxy.setFaults({ throttleShare: 0.7, operations: ['BatchWriteItem'] });
      await waitFor(async () => (await limit()) <= 2, { timeoutMs: 30_000, message: 'limit falls under throttling' });
      proxy.setFaults({});
      await waitFor(async () => (await limit()) === 8, { timeoutMs: 30_000, message: 'limit recovers' });
    } finally {
      stop = true;
      await Promise.all(load);
      await Promise.all(devices.map((c) => c.endAsync()));
    }
    const text = await scrape(svc.httpUrl);
    expect(metricValue(text, 'iot_ingest_dynamodb_throttles_total', { operation: 'BatchWriteItem' })).toBeGreaterThan(0);
    // Every acknowledged message is stored.
    const items = await scanAll(svc.clients.doc, svc.config.tableName);
    expect(items).toHaveLength(sent);
  });
});

describe('adaptive write concurrency on rising latency', () => {
  let env: FaultedService | undefined;
  let proxy: FaultProxy;
  let svc: TestService;

  beforeAll(async () => {
    env = await startFaultedService({ writeConcurrency: 8, writeConcurrencyMin: 1, batchSize: 5, lingerMs: 2, slowWriteMs: 400 });
    ({ proxy, svc } = env);
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('falls while writes are slower than --slow-write-ms and recovers when they are fast again', async () => {
    const limit = async (): Promise<number> => metricValue(await scrape(svc.httpUrl), 'iot_ingest_write_concurrency_limit');
    const device = await connectAsync(svc.mqttUrl, { clientId: 'slow-0', reconnectPeriod: 0 });
    const ts = Date.now() - 600_000;
    let stop = false;
    let sent = 0;
    // Bounded load: at most 5,000 messages or 60 s, 20 in flight.
    const load = publishBounded(device, 'slow-0', ts, 20, () => !stop, () => sent++);
    try {
      proxy.setFaults({ delayMs: 800, operations: ['BatchWriteItem'] });
      await waitFor(async () => (await limit()) <= 2, { timeoutMs: 30_000, message: 'limit falls while writes are slow' });
      proxy.setFaults({});
      await waitFor(async () => (await limit()) === 8, { timeoutMs: 30_000, message: 'limit recovers' });
    } finally {
      stop = true;
      await load;
      await device.endAsync();
    }
    const items = await scanAll(svc.clients.doc, svc.config.tableName);
    expect(items).toHaveLength(sent);
  });
});
