// End to end over real sockets: mqtt.js devices publish to the service, which writes to a real
// DynamoDB-API server; every reading is read back with its key, types and attributes. The storage
// suite runs against dynalite and against AWS's own DynamoDB Local.
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynalite, startDynamoDbLocal, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { metricValue, scanAll, scrape, startTestService } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

// The writer runs the DynamoDB client on a worker thread by default; the same-thread store is
// covered too.
const servers: [string, () => Promise<DynamoServer>, { writerThread: boolean }][] = [
  ['dynalite', () => startDynalite(), { writerThread: true }],
  ['DynamoDB Local', () => startDynamoDbLocal(), { writerThread: true }],
  ['dynalite, writer on the main thread', () => startDynalite(), { writerThread: false }],
];

async function device(url: string, id: string): Promise<MqttClient> {
  return connectAsync(url, { clientId: id, reconnectPeriod: 0, clean: true });
}

describe.each(servers)('ingestion into %s', (_name, startServer, overrides) => {
  let server: DynamoServer;
  let svc: TestService;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    server = await startServer();
    svc = await startTestService(server.endpoint, overrides);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await svc?.stop();
    await server?.stop();
  });

  const get = async (deviceId: string, ts: number): Promise<Record<string, unknown> | undefined> =>
    (await svc.clients.doc.send(new GetCommand({ TableName: svc.config.tableName, Key: { deviceId, ts }, ConsistentRead: true }))).Item;

  it('stores a single reading, a {ts, values} reading and arrays, with native types', async () => {
    const c = await device(svc.mqttUrl, 'dev-a');
    clients.push(c);
    const base = Date.now() - 60_000;
    await c.publishAsync('devices/dev-a/telemetry', JSON.stringify({ ts: base, temperature: 21.4, humidity: 40.2 }), { qos: 1 });
    await c.publishAsync('devices/dev-a/telemetry', JSON.stringify({ ts: base + 1, values: { temperature: 22, ok: true, label: 'kitchen' } }), { qos: 1 });
    await c.publishAsync(
      'devices/dev-a/telemetry',
      JSON.stringify([
        { ts: base + 2, pos: { lat: 52.1, lon: 4.3, fix: [1, 2, 3] } },
        { ts: new Date(base + 3).toISOString(), values: { co2: 415, note: null } },
      ]),
      { qos: 1 },
    );

    expect(await get('dev-a', base)).toMatchObject({ deviceId: 'dev-a', ts: base, temperature: 21.4, humidity: 40.2 });
    expect(await get('dev-a', base + 1)).toMatchObject({ temperature: 22, ok: true, label: 'kitchen' });
    const nested = await get('dev-a', base + 2);
    // A nested object is stored as a DynamoDB map (read back as an object), not a JSON string.
    expect(nested?.pos).toEqual({ lat: 52.1, lon: 4.3, fix: [1, 2, 3] });
    expect(await get('dev-a', base + 3)).toMatchObject({ co2: 415, note: null });
    const item = await get('dev-a', base);
    expect(typeof item?.receivedAt).toBe('number');
    expect(Object.keys(item ?? {}).sort()).toEqual(['deviceId', 'humidity', 'receivedAt', 'temperature', 'ts']);
  });

  it('uses the receive time when ts is absent', async () => {
    const c = await device(svc.mqttUrl, 'dev-b');
    clients.push(c);
    const before = Date.now();
    await c.publishAsync('devices/dev-b/telemetry', JSON.stringify({ battery: 87 }), { qos: 1 });
    const items = (await scanAll(svc.clients.doc, svc.config.tableName)).filter((i) => i.deviceId === 'dev-b');
    expect(items).toHaveLength(1);
    expect(items[0]?.ts).toBeGreaterThanOrEqual(before);
    expect(items[0]?.ts).toBe(items[0]?.receivedAt);
  });

  it('never sends a PUBACK before the reading is in the table (durable acks)', async () => {
    const c = await device(svc.mqttUrl, 'dev-durable');
    clients.push(c);
    const base = Date.now() - 10_000;
    const checks = Array.from({ length: 60 }, async (_, i) => {
      await c.publishAsync('devices/dev-durable/telemetry', JSON.stringify({ ts: base + i, seq: i }), { qos: 1 });
      // Checked right after this message's PUBACK: the item must already be readable.
      return (await get('dev-durable', base + i))?.seq;
    });
    expect(await Promise.all(checks)).toEqual(Array.from({ length: 60 }, (_, i) => i));
  });

  it('stores QoS 0 readings the same way', async () => {
    const c = await device(svc.mqttUrl, 'dev-q0');
    clients.push(c);
    const base = Date.now() - 5_000;
    for (let i = 0; i < 30; i++) await c.publishAsync('devices/dev-q0/telemetry', JSON.stringify({ ts: base + i, v: i }), { qos: 0 });
    await waitFor(async () => (await scanAll(svc.clients.doc, svc.config.tableName)).filter((x) => x.deviceId === 'dev-q0').length === 30, {
      message: '30 QoS 0 readings stored',
    });
  });

  it('merges two readings with one key inside a batch instead of failing the batch', async () => {
    const c = await device(svc.mqttUrl, 'dev-dup');
    clients.push(c);
    const ts = Date.now() - 1_000;
    await c.publishAsync('devices/dev-dup/telemetry', JSON.stringify([{ ts, v: 1 }, { ts, v: 2 }, { ts: ts + 1, v: 3 }]), { qos: 1 });
    expect((await get('dev-dup', ts))?.v).toBe(2);
    expect((await get('dev-dup', ts + 1))?.v).toBe(3);
    expect(metricValue(await scrape(svc.httpUrl), 'iot_ingest_duplicate_readings_total')).toBeGreaterThanOrEqual(1);
  });

  it('counts stored readings and messages in /metrics and serves the read API', async () => {
    const text = await scrape(svc.httpUrl);
    expect(metricValue(text, 'iot_ingest_readings_stored_total')).toBeGreaterThanOrEqual(97);
    expect(metricValue(text, 'iot_ingest_messages_received_total', { result: 'stored' })).toBeGreaterThanOrEqual(95);
    expect(metricValue(text, 'iot_ingest_batch_size_readings_count')).toBeGreaterThan(0);
    expect(metricValue(text, 'iot_ingest_connected_clients')).toBeGreaterThanOrEqual(1);
    const res = await fetch(`${svc.httpUrl}/devices/dev-durable/readings?from=0&limit=10&order=desc`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: { seq: number }[]; next?: string };
    expect(body.items.map((i) => i.seq)).toEqual([59, 58, 57, 56, 55, 54, 53, 52, 51, 50]);
    expect(body.next).toBeDefined();
    const bad = await fetch(`${svc.httpUrl}/devices/dev-durable/readings?limit=0&from=yesterday`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { problems: string[] }).problems.join(' ')).toMatch(/limit.*from|from.*limit/s);
    expect((await fetch(`${svc.httpUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${svc.httpUrl}/healthz`)).status).toBe(200);
  });

  it('with a retention period writes expiresAt and points the table TTL at it where the server supports it', async () => {
    const retained = await startTestService(server.endpoint, { retentionDays: 30 });
    try {
      const c = await connectAsync(retained.mqttUrl, { clientId: 'ttl-dev', reconnectPeriod: 0 });
      const ts = Date.now() - 2_000;
      await c.publishAsync('devices/ttl-dev/telemetry', JSON.stringify({ ts, v: 1 }), { qos: 1 });
      await c.endAsync();
      const item = (await retained.clients.doc.send(new GetCommand({ TableName: retained.config.tableName, Key: { deviceId: 'ttl-dev', ts } }))).Item;
      expect(item?.expiresAt).toBe(Math.floor(ts / 1000) + 30 * 86_400);
      if (server.kind === 'dynamodb-local') {
        const ttl = await retained.clients.client.send(new DescribeTimeToLiveCommand({ TableName: retained.config.tableName }));
        expect(ttl.TimeToLiveDescription).toMatchObject({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
      }
    } finally {
      await retained.stop();
    }
  });
});
