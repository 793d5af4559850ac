// Presence over real sockets: connects, disconnects and a keepalive timeout reach the registry item
// within the flush interval (GET /devices/{id}); a reconnect storm is coalesced into far fewer
// registry writes than connection events (counted by the service's own metric).
import { connect as tcpConnect } from 'node:net';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynalite, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { metricValue, runCli, scrape, startTestService } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

const FLUSH_MS = 200;
// The stated bound: an event shows within one flush interval plus one DynamoDB write; allow slack
// for a loaded test machine.
const SHOWS_WITHIN_MS = FLUSH_MS + 3_000;

async function getDevice(svc: TestService, id: string): Promise<Record<string, unknown> | undefined> {
  const res = await fetch(`${svc.httpUrl}/devices/${id}`);
  return res.status === 200 ? ((await res.json()) as Record<string, unknown>) : undefined;
}

describe('presence', () => {
  let server: DynamoServer;
  let svc: TestService;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    server = await startDynalite();
    svc = await startTestService(server.endpoint, { presenceFlushMs: FLUSH_MS, presenceSeenIntervalMs: 1_000, replicaId: 'replica-a' });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await svc?.stop();
    await server?.stop();
  });

  it('shows connect, latest reading and disconnect on GET /devices/{id}', async () => {
    expect((await fetch(`${svc.httpUrl}/devices/p-1`)).status).toBe(404);
    const c = await connectAsync(svc.mqttUrl, { clientId: 'p-1', reconnectPeriod: 0 });
    const online = await waitFor(async () => {
      const d = await getDevice(svc, 'p-1');
      return d?.online === true ? d : undefined;
    }, { timeoutMs: SHOWS_WITHIN_MS, message: 'connect not shown' });
    expect(online).toMatchObject({ deviceId: 'p-1', connected: true, replica: 'replica-a', sourceAddress: '127.0.0.1' });
    expect(typeof online.lastConnectAt).toBe('number');

    const ts = Date.now() - 1_000;
    await c.publishAsync('devices/p-1/telemetry', JSON.stringify({ ts, temperature: 21.5 }), { qos: 1 });
    const withReading = await getDevice(svc, 'p-1');
    expect(withReading?.lastReading).toMatchObject({ deviceId: 'p-1', ts, temperature: 21.5 });
    expect(typeof withReading?.lastReadingAt).toBe('number');

    await c.endAsync();
    const offline = await waitFor(async () => {
      const d = await getDevice(svc, 'p-1');
      return d?.online === false ? d : undefined;
    }, { timeoutMs: SHOWS_WITHIN_MS, message: 'disconnect not shown' });
    expect(offline).toMatchObject({ connected: false, disconnectReason: 'client' });
    expect(offline.lastDisconnectAt as number).toBeGreaterThanOrEqual(offline.lastConnectAt as number);
    // The list shows the latest reading from the coalesced registry write too.
    await waitFor(async () => {
      const list = (await (await fetch(`${svc.httpUrl}/devices?online=false`)).json()) as { items: Record<string, unknown>[] };
      return list.items.find((d) => d.deviceId === 'p-1' && (d.lastReading as { ts?: number } | undefined)?.ts === ts);
    }, { timeoutMs: SHOWS_WITHIN_MS, message: 'latest reading not in the list' });
  });

  it('marks a device whose keepalive ran out offline with reason keepalive', async () => {
    // A raw client: CONNECT with keepalive 1 s, then silence (no PINGREQ).
    const socket = tcpConnect(svc.service.mqttPort, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'p-silent', keepalive: 1 }));
    await waitFor(async () => (await getDevice(svc, 'p-silent'))?.online === true, { timeoutMs: SHOWS_WITHIN_MS });
    // aedes closes it after 1.5 x keepalive; then one flush.
    const gone = await waitFor(async () => {
      const d = await getDevice(svc, 'p-silent');
      return d?.online === false ? d : undefined;
    }, { timeoutMs: 1_500 + SHOWS_WITHIN_MS, message: 'keepalive timeout not shown' });
    expect(gone.disconnectReason).toBe('keepalive');
    socket.destroy();
  });

  it('shows the same through `iot-ingest devices` (a process)', async () => {
    const c = await connectAsync(svc.mqttUrl, { clientId: 'p-cli', reconnectPeriod: 0 });
    clients.push(c);
    await waitFor(async () => (await getDevice(svc, 'p-cli'))?.online === true, { timeoutMs: SHOWS_WITHIN_MS });
    const list = await runCli(['devices', 'list', '--online', 'true', '--json', '--url', svc.httpUrl]);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    const online = list.stdout.trim().split('\n').map((l) => JSON.parse(l) as { deviceId: string; online: boolean });
    expect(online.map((d) => d.deviceId)).toEqual(['p-cli']);
    const show = await runCli(['devices', 'show', 'p-1', '--json', '--url', svc.httpUrl]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ deviceId: 'p-1', online: false, lastReading: { deviceId: 'p-1', temperature: 21.5 } });
  });

  it('rejects bad list parameters with a 400 naming them', async () => {
    const res = await fetch(`${svc.httpUrl}/devices?online=maybe&limit=0`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { problems: string[] };
    expect(body.problems.map((p) => p.split(':')[0]).sort()).toEqual(['limit', 'online']);
  });
});

describe('presence under a reconnect storm', () => {
  let server: DynamoServer;
  let svc: TestService;

  beforeAll(async () => {
    server = await startDynalite();
    // The whole storm comes from one address: raise the per-address connect rate so the storm reaches
    // presence instead of being cut at the door (that limit has its own tests).
    svc = await startTestService(server.endpoint, { presenceFlushMs: 2_000, presenceSeenIntervalMs: 60_000, maxConnectsPerIpPerSecond: 100_000 });
  });
  afterAll(async () => {
    await svc?.stop();
    await server?.stop();
  });

  it('turns 200 devices x 5 reconnects into far fewer registry writes than events, ending offline', async () => {
    const DEVICES = 200;
    const ROUNDS = 5;
    const before = await scrape(svc.httpUrl);
    await Promise.all(
      Array.from({ length: DEVICES }, async (_, d) => {
        for (let r = 0; r < ROUNDS; r++) {
          const c = await connectAsync(svc.mqttUrl, { clientId: `storm-${d}`, reconnectPeriod: 0 });
          await c.endAsync();
        }
      }),
    );
    await waitFor(async () => metricValue(await scrape(svc.httpUrl), 'iot_ingest_presence_pending_devices') === 0, { timeoutMs: 10_000 });
    const after = await scrape(svc.httpUrl);
    const delta = (name: string, labels: Record<string, string> = {}): number => metricValue(after, name, labels) - metricValue(before, name, labels);
    const events = delta('iot_ingest_presence_events_total');
    const writes = delta('iot_ingest_presence_writes_total');
    const flushes = delta('iot_ingest_presence_flushes_total');
    expect(delta('iot_ingest_presence_events_total', { event: 'connect' })).toBe(DEVICES * ROUNDS);
    expect(delta('iot_ingest_presence_events_total', { event: 'disconnect' })).toBe(DEVICES * ROUNDS);
    // At most one write per device per flush, and far fewer than one per event.
    expect(writes).toBeLessThanOrEqual(DEVICES * flushes);
    expect(writes).toBeLessThanOrEqual(events / 2);
    expect(writes).toBeGreaterThanOrEqual(DEVICES);
    expect(delta('iot_ingest_presence_writes_total', { result: 'failed' })).toBe(0);

    // Every device ends offline: two pages of the filtered list.
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = (await (await fetch(`${svc.httpUrl}/devices?online=false&limit=150${cursor ? `&cursor=${cursor}` : ''}`)).json()) as { items: { deviceId: string; online: boolean }[]; next?: string };
      for (const d of page.items) {
        expect(d.online).toBe(false);
        seen.add(d.deviceId);
      }
      cursor = page.next;
    } while (cursor);
    expect(seen.size).toBe(DEVICES);
    const online = (await (await fetch(`${svc.httpUrl}/devices?online=true`)).json()) as { count: number };
    expect(online.count).toBe(0);
    console.log(`presence storm: ${events} connection events -> ${writes} registry writes in ${flushes} flushes`);
  });
});
