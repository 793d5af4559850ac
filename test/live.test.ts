// The live tail over real sockets: devices publish with mqtt.js, readings are stored in dynalite,
// and an SSE client, an MQTT application on $stored/devices/+/telemetry and `iot-ingest tail` (a
// process) each get every stored reading, in order per device. A subscriber that stops reading
// skips (counted) and does not hold ingestion back.
import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynalite, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { CLI, REPO_ROOT, metricValue, scrape, startTestService } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';
import { openSse } from './helpers/sse.ts';

const APP = { name: 'dashboard', secret: 'dashboard-secret-1' };

describe('live tail', () => {
  let server: DynamoServer;
  let svc: TestService;
  const clients: MqttClient[] = [];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    server = await startDynalite();
    svc = await startTestService(server.endpoint, {
      applications: `${APP.name}:${APP.secret}`,
      liveStreamMaxEventsPerSecond: 100_000,
      liveMaxBufferedBytes: 256 * 1024,
    });
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await svc?.stop();
    await server?.stop();
  });

  async function publishSeries(deviceIds: string[], perDevice: number, base: number): Promise<void> {
    await Promise.all(
      deviceIds.map(async (id) => {
        const c = await connectAsync(svc.mqttUrl, { clientId: id, reconnectPeriod: 0 });
        clients.push(c);
        for (let i = 0; i < perDevice; i++) await c.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ ts: base + i, seq: i, temperature: 20 + i / 10 }), { qos: 1 });
      }),
    );
  }

  it('sends every stored reading to an SSE client, an MQTT application and `tail`, in order per device', async () => {
    const app = await connectAsync(svc.mqttUrl, { clientId: 'dash-1', username: APP.name, password: APP.secret, reconnectPeriod: 0 });
    clients.push(app);
    const granted = await app.subscribeAsync('$stored/devices/+/telemetry', { qos: 1 });
    // Granted (aedes echoes the requested QoS); delivered at QoS 0.
    expect(granted.map((g) => g.qos)).toEqual([1]);
    const viaMqtt: Record<string, unknown>[] = [];
    app.on('message', (topic, payload) => {
      const item = JSON.parse(payload.toString()) as Record<string, unknown>;
      expect(topic).toBe(`$stored/devices/${String(item.deviceId)}/telemetry`);
      viaMqtt.push(item);
    });
    const all = await openSse(`${svc.httpUrl}/stream`);
    const one = await openSse(`${svc.httpUrl}/devices/live-b/stream`);
    const tail = spawn(process.execPath, [CLI, 'tail', 'live-a', 'live-c', '--json', '--count', '60', '--url', svc.httpUrl], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let tailOut = '';
    tail.stdout.on('data', (d: Buffer) => (tailOut += d.toString()));
    const tailExit = new Promise<number | null>((resolve) => tail.once('exit', resolve));
    await waitFor(async () => metricValue(await scrape(svc.httpUrl), 'iot_ingest_live_subscribers', { transport: 'sse' }) === 3, { timeoutMs: 20_000, message: 'tail did not connect' });

    const base = Date.now() - 600_000;
    const devices = ['live-a', 'live-b', 'live-c'];
    await publishSeries(devices, 30, base);

    const series = Array.from({ length: 30 }, (_, i) => base + i);
    const expected = (_id: string): number[] => series;
    const tsOf = (items: Record<string, unknown>[], id: string): number[] => items.filter((r) => r.deviceId === id).map((r) => r.ts as number);
    await waitFor(() => all.readings().length === 90 && viaMqtt.length === 90 && one.readings().length === 30, { message: 'live readings missing' });
    for (const id of devices) {
      expect(tsOf(all.readings(), id)).toEqual(expected(id));
      expect(tsOf(viaMqtt, id)).toEqual(expected(id));
    }
    expect(tsOf(one.readings(), 'live-b')).toEqual(expected('live-b'));
    expect(one.readings().every((r) => r.deviceId === 'live-b')).toBe(true);
    // The stored item: server fields and native values.
    expect(all.readings()[0]).toMatchObject({ deviceId: expect.any(String), seq: expect.any(Number), receivedAt: expect.any(Number) });

    expect(await tailExit).toBe(0);
    const tailed = tailOut.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(tailed).toHaveLength(60);
    expect(tsOf(tailed, 'live-a')).toEqual(expected('live-a'));
    expect(tsOf(tailed, 'live-c')).toEqual(expected('live-c'));
    all.close();
    one.close();
  });

  it('refuses $stored subscriptions to devices, and live streams beyond the bound', async () => {
    const d = await connectAsync(svc.mqttUrl, { clientId: 'sneaky', reconnectPeriod: 0 });
    clients.push(d);
    const packet = await d.subscribeAsync('$stored/devices/+/telemetry', { qos: 0 }).then(
      () => undefined,
      (err: { packet?: { granted?: number[] } }) => err.packet,
    );
    expect(packet?.granted).toEqual([128]);
    const bad = await fetch(`${svc.httpUrl}/stream?devices=a,b%20c`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { problems: string[] }).problems).toEqual([expect.stringMatching(/^devices: /)]);
  });

  it('keeps ingesting at its pace while an SSE client and an MQTT application stop reading', async () => {
    const measure = async (prefix: string): Promise<number> => {
      const base = Date.now() - 300_000;
      const before = metricValue(await scrape(svc.httpUrl), 'iot_ingest_readings_stored_total');
      const started = performance.now();
      // 4 devices x 40 messages x 25 readings of ~1.5 KB = 4,000 readings, ~6 MB: more than the
      // kernel's socket buffers of a reader that stopped can absorb.
      await Promise.all(
        [0, 1, 2, 3].map(async (d) => {
          const c = await connectAsync(svc.mqttUrl, { clientId: `${prefix}-${d}`, reconnectPeriod: 0 });
          clients.push(c);
          for (let m = 0; m < 40; m++) {
            const batch = Array.from({ length: 25 }, (_, i) => ({ ts: base + m * 25 + i, note: 'x'.repeat(1500) }));
            await c.publishAsync(`devices/${prefix}-${d}/telemetry`, JSON.stringify(batch), { qos: 1 });
          }
        }),
      );
      const ms = performance.now() - started;
      expect(metricValue(await scrape(svc.httpUrl), 'iot_ingest_readings_stored_total') - before).toBe(4000);
      return ms;
    };
    const baselineMs = await measure('pace-base');

    // An SSE client that never reads: a raw socket, paused.
    const stuck = tcpConnect(svc.service.httpPort, '127.0.0.1');
    sockets.push(stuck);
    await new Promise((resolve) => stuck.once('connect', resolve));
    stuck.write(`GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    stuck.pause();
    // An MQTT application that stops reading.
    const app = await connectAsync(svc.mqttUrl, { clientId: 'dash-stuck', username: APP.name, password: APP.secret, reconnectPeriod: 0 });
    clients.push(app);
    await app.subscribeAsync('$stored/devices/+/telemetry', { qos: 0 });
    (app.stream as Socket).pause();
    await waitFor(async () => metricValue(await scrape(svc.httpUrl), 'iot_ingest_live_subscribers', { transport: 'mqtt' }) >= 1);
    // And one on the raw telemetry topic, whose forwards the broker would otherwise hold PUBACKs for.
    const raw = await connectAsync(svc.mqttUrl, { clientId: 'raw-stuck', username: APP.name, password: APP.secret, reconnectPeriod: 0 });
    clients.push(raw);
    await raw.subscribeAsync('devices/+/telemetry', { qos: 1 });
    (raw.stream as Socket).pause();
    const healthy = await openSse(`${svc.httpUrl}/devices/pace-slow-2/stream`);

    const withStuckMs = await measure('pace-slow');
    const text = await scrape(svc.httpUrl);
    expect(metricValue(text, 'iot_ingest_live_readings_skipped_total', { transport: 'sse', reason: 'slow' })).toBeGreaterThan(0);
    expect(metricValue(text, 'iot_ingest_live_readings_skipped_total', { transport: 'mqtt', reason: 'slow' })).toBeGreaterThan(0);
    // A healthy subscriber beside them still gets all of its device's readings.
    await waitFor(() => healthy.readings().length === 1000, { timeoutMs: 30_000, message: `healthy subscriber got ${healthy.readings().length}` });
    healthy.close();
    // Generous: stuck subscribers must not multiply the time ingestion takes.
    expect(withStuckMs).toBeLessThan(baselineMs * 5 + 2_000);
  });
});
