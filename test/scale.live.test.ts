// Commands and the live tail across replicas in cluster mode: two `iot-ingest serve --cluster
// redis://...` processes sharing Debian's redis-server (started here on a free port, nothing saved)
// and one dynalite. A command created over HTTP on replica A reaches a device connected to replica
// B exactly once and reads `answered` on A; readings stored by B reach an MQTT application
// ($stored/...) and SSE streams on A, every one, in order; a device that acknowledged a command on
// B and moves to A is not sent it again (also straight after its PUBACK).
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_APP, httpUrl, startClusterPair } from './helpers/cluster-pair.ts';
import type { ClusterPair } from './helpers/cluster-pair.ts';
import { randomTableName, waitFor } from './helpers/dynamo-servers.ts';
import { hasBinary } from './helpers/scale-servers.ts';
import { metricValue, scrape } from './helpers/service.ts';
import type { SpawnedService } from './helpers/service.ts';
import { openSse } from './helpers/sse.ts';
import type { SseClient } from './helpers/sse.ts';

const APP = CLUSTER_APP;

interface Received {
  readonly topic: string;
  readonly body: { commandId: string; name: string; payload: unknown };
}

describe.skipIf(!hasBinary('redis-server'))('commands and the live tail across replicas (cluster mode)', () => {
  let pair: ClusterPair | undefined;
  let a: SpawnedService;
  let b: SpawnedService;
  const table = randomTableName('xrep');
  const streams: SseClient[] = [];
  const open = (s: SpawnedService, options: IClientOptions): Promise<MqttClient> => (pair as ClusterPair).open(s, options);
  /** A device on `s`, subscribed to its command topic, recording every command it is sent. */
  const device = async (s: SpawnedService, id: string, options: IClientOptions = {}): Promise<{ client: MqttClient; received: Received[] }> => {
    const client = await open(s, { clientId: id, clean: true, ...options });
    const received: Received[] = [];
    client.on('message', (topic, payload) => received.push({ topic, body: JSON.parse(payload.toString()) as Received['body'] }));
    const granted = await client.subscribeAsync(`devices/${id}/commands/#`, { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    return { client, received };
  };
  const createCommand = async (s: SpawnedService, deviceId: string, body: unknown): Promise<string> => {
    const res = await fetch(`${httpUrl(s)}/devices/${deviceId}/commands`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    return ((await res.json()) as { commandId: string }).commandId;
  };
  const status = async (s: SpawnedService, deviceId: string, commandId: string): Promise<Record<string, unknown>> => {
    const res = await fetch(`${httpUrl(s)}/devices/${deviceId}/commands/${commandId}`);
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  };
  const commandsSent = async (s: SpawnedService): Promise<number> => metricValue(await scrape(httpUrl(s)), 'iot_ingest_command_publishes_total');

  beforeAll(async () => {
    pair = await startClusterPair(table, ['--commands-table', `${table}-commands`, '--devices-table', `${table}-devices`]);
    ({ a, b } = pair);
  }, 60_000);
  afterAll(async () => {
    for (const s of streams) s.close();
    await pair?.stop();
  });

  it('a command created on A reaches the device on B once; its answer on B reads answered on A', async () => {
    const d = await device(b, 'xr-valve');
    const sentBefore = { a: await commandsSent(a), b: await commandsSent(b) };
    const commandId = await createCommand(a, 'xr-valve', { name: 'open', payload: { percent: 40 } });
    await waitFor(() => d.received.length >= 1, { timeoutMs: 10_000, message: 'the command did not reach the device on B' });
    expect(d.received[0]).toEqual({ topic: 'devices/xr-valve/commands/open', body: expect.objectContaining({ commandId, name: 'open', payload: { percent: 40 } }) });
    await waitFor(async () => (await status(a, 'xr-valve', commandId)).status === 'delivered', { message: 'the PUBACK on B did not make it delivered' });
    await d.client.publishAsync('devices/xr-valve/commands/response', JSON.stringify({ commandId, status: 'ok', percent: 40 }), { qos: 1 });
    expect(await status(a, 'xr-valve', commandId)).toMatchObject({ status: 'answered', response: { status: 'ok', percent: 40 } });
    // Sent by B alone, once (A has no such device and must not publish it through the shared emitter).
    expect(await commandsSent(a)).toBe(sentBefore.a);
    expect(await commandsSent(b)).toBe(sentBefore.b + 1);
    expect(d.received).toHaveLength(1);
  }, 30_000);

  it('readings stored by B reach an MQTT application and SSE streams on A, every one, in order per device', async () => {
    const app = await open(a, { clientId: 'ops:live', ...APP });
    const viaMqtt: { topic: string; item: Record<string, unknown> }[] = [];
    app.on('message', (topic, payload) => viaMqtt.push({ topic, item: JSON.parse(payload.toString()) as Record<string, unknown> }));
    await app.subscribeAsync('$stored/devices/+/telemetry', { qos: 1 });
    const one = await openSse(`${httpUrl(a)}/devices/xr-t1/stream`);
    const all = await openSse(`${httpUrl(a)}/stream?devices=xr-t1,xr-t2`);
    streams.push(one, all);
    await waitFor(async () => {
      const text = await scrape(httpUrl(a));
      return metricValue(text, 'iot_ingest_live_subscribers', { transport: 'sse' }) === 2 && metricValue(text, 'iot_ingest_live_subscribers', { transport: 'mqtt' }) === 1;
    }, { message: 'live subscribers on A not registered' });
    const storedOnA = metricValue(await scrape(httpUrl(a)), 'iot_ingest_readings_stored_total');

    const perDevice = 25;
    const base = Date.now() - 600_000;
    const ids = ['xr-t1', 'xr-t2'];
    await Promise.all(ids.map(async (id) => {
      const dev = await open(b, { clientId: id });
      for (let i = 0; i < perDevice; i++) await dev.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ ts: base + i, seq: i }), { qos: 1 });
    }));
    const series = Array.from({ length: perDevice }, (_, i) => base + i);
    const tsOf = (items: Record<string, unknown>[], id: string): number[] => items.filter((r) => r.deviceId === id).map((r) => r.ts as number);
    await waitFor(() => viaMqtt.length >= 2 * perDevice && one.readings().length >= perDevice && all.readings().length >= 2 * perDevice, {
      timeoutMs: 15_000, message: 'readings stored on B did not all reach A\'s live subscribers',
    });
    // Stored by B, not by A: they came through the cluster emitter.
    expect(metricValue(await scrape(httpUrl(a)), 'iot_ingest_readings_stored_total')).toBe(storedOnA);
    expect(viaMqtt).toHaveLength(2 * perDevice);
    for (const id of ids) {
      expect(tsOf(viaMqtt.map((m) => m.item), id)).toEqual(series);
      expect(tsOf(all.readings(), id)).toEqual(series);
    }
    expect(viaMqtt.every((m) => m.topic === `$stored/devices/${String(m.item.deviceId)}/telemetry`)).toBe(true);
    expect(one.readings()).toHaveLength(perDevice);
    expect(tsOf(one.readings(), 'xr-t1')).toEqual(series);
    expect(all.readings()).toHaveLength(2 * perDevice);
    expect(viaMqtt[0]?.item).toMatchObject({ deviceId: expect.any(String), seq: expect.any(Number), receivedAt: expect.any(Number) });
  }, 30_000);

  it('a device that acknowledged a command on B and reconnects on A is not sent it again', async () => {
    const first = await device(b, 'xr-door', { clean: false });
    const acked = await createCommand(a, 'xr-door', { name: 'lock' });
    await waitFor(() => first.received.length === 1, { timeoutMs: 10_000, message: 'the command did not reach the device on B' });
    await waitFor(async () => (await status(a, 'xr-door', acked)).status === 'delivered', { message: 'the PUBACK on B did not make it delivered' });
    await first.client.endAsync();

    // Back on A with the same persistent session (it lives in Redis): only the next command arrives.
    const moved = await device(a, 'xr-door', { clean: false });
    const next = await createCommand(b, 'xr-door', { name: 'unlock' });
    await waitFor(() => moved.received.length >= 1, { timeoutMs: 10_000, message: 'the next command did not reach the device on A' });
    await waitFor(async () => (await status(b, 'xr-door', next)).status === 'delivered', { message: 'the PUBACK on A did not make it delivered' });
    expect(moved.received.map((r) => r.body.commandId)).toEqual([next]);
    expect(first.received.map((r) => r.body.commandId)).toEqual([acked]);
    expect((await status(a, 'xr-door', acked)).status).toBe('delivered');
  }, 30_000);

  it('also when it moves straight after its PUBACK, before the status write is awaited', async () => {
    const first = await device(b, 'xr-lamp');
    const acked = await createCommand(a, 'xr-lamp', { name: 'on' });
    await waitFor(() => first.received.length === 1, { timeoutMs: 10_000, message: 'the command did not reach the device on B' });
    // mqtt.js sends the PUBACK once the message is handled; end() flushes it, then the device moves.
    await first.client.endAsync();
    const moved = await device(a, 'xr-lamp');
    const next = await createCommand(a, 'xr-lamp', { name: 'off' });
    await waitFor(() => moved.received.some((r) => r.body.commandId === next), { timeoutMs: 10_000, message: 'the next command did not reach the device on A' });
    expect(moved.received.map((r) => r.body.commandId)).toEqual([next]);
    expect((await status(a, 'xr-lamp', acked)).status).toBe('delivered');
  }, 30_000);
});
