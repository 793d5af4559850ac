// The telemetry fan-out gate (src/broker/telemetry-fan-out.ts) over real aedes and mqtt.js clients
// on real sockets: telemetry reaches the broker's emitter only while some subscription (online, or
// a persistent session's) could receive it, and every subscriber still gets what it subscribed to.
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { Aedes } from 'aedes';
import { connect, connectAsync } from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { internalsOf } from '../../src/broker/internals.ts';
import { gateTelemetryFanOut, matchesSomeTelemetry } from '../../src/broker/telemetry-fan-out.ts';

interface Rig {
  readonly url: string;
  /** Topics of the packets handed to the broker's emitter, in order. */
  readonly emitted: string[];
  readonly registry: Registry;
  connect(options: IClientOptions): Promise<MqttClient>;
  close(): Promise<void>;
}

async function rig(enabled = true): Promise<Rig> {
  const broker = await Aedes.createBroker();
  const registry = new Registry();
  gateTelemetryFanOut(broker, registry, { enabled });
  const emitted: string[] = [];
  const mq = internalsOf(broker).mq;
  const emit = mq.emit.bind(mq);
  mq.emit = (packet, cb) => {
    if (!packet.topic.startsWith('$SYS/')) emitted.push(packet.topic);
    emit(packet, cb);
  };
  const server: Server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: MqttClient[] = [];
  return {
    url,
    emitted,
    registry,
    async connect(options) {
      const c = await connectAsync(url, { reconnectPeriod: 0, ...options });
      clients.push(c);
      return c;
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const fanout = async (r: Rig): Promise<number> => (await r.registry.getSingleMetric('iot_ingest_telemetry_fanout')?.get())?.values[0]?.value ?? -1;
const nextMessage = (c: MqttClient): Promise<string> => new Promise((resolve) => c.once('message', (topic, payload) => resolve(`${topic} ${payload.toString()}`)));
/** Unsubscribing reaches the emitter's matcher a turn after the UNSUBACK (mqemitter). */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe('telemetry fan-out gate', () => {
  let r: Rig | undefined;
  afterEach(async () => {
    await r?.close();
    r = undefined;
  });

  it('knows which filters can receive some devices/{id}/telemetry', () => {
    for (const f of ['#', 'devices/#', 'devices/+/telemetry', 'devices/d1/telemetry', '+/+/telemetry', '+/#', 'devices/+/+', '$share/g/devices/+/telemetry', 'devices//telemetry']) expect([f, matchesSomeTelemetry(f)]).toEqual([f, true]);
    for (const f of ['devices/+/commands/#', '$stored/devices/+/telemetry', 'devices/+/telemetry/x', 'devices/a/b/telemetry', 'devices', 'other/#', '$share/g', '$SYS/#']) expect([f, matchesSomeTelemetry(f)]).toEqual([f, false]);
  });

  it('with no subscriber, telemetry is acknowledged but never handed to the emitter; other topics are', async () => {
    r = await rig();
    const device = await r.connect({ clientId: 'd1' });
    for (let i = 0; i < 3; i++) await device.publishAsync('devices/d1/telemetry', `{"ts":${i}}`, { qos: 1 });
    await device.publishAsync('devices/d1/telemetry', '{"ts":9}', { qos: 0 });
    await device.publishAsync('devices/d1/commands/response', '{}', { qos: 1 });
    await device.publishAsync('devices/d1/telemetry/extra', '{}', { qos: 1 });
    await settle();
    expect(r.emitted).toEqual(['devices/d1/commands/response', 'devices/d1/telemetry/extra']);
    expect(await fanout(r)).toBe(0);
  });

  it('a retained telemetry publish still goes through (the broker keeps it for later subscribers)', async () => {
    r = await rig();
    const device = await r.connect({ clientId: 'd1' });
    await device.publishAsync('devices/d1/telemetry', '{"ts":8}', { qos: 1, retain: true });
    const app = await r.connect({ clientId: 'app' });
    const arriving = nextMessage(app);
    await app.subscribeAsync('devices/+/telemetry', { qos: 0 });
    expect(await arriving).toBe('devices/d1/telemetry {"ts":8}');
    expect(r.emitted).toEqual(['devices/d1/telemetry']);
  });

  it('an online subscriber gets every reading while subscribed; after it unsubscribes or leaves the gate closes again', async () => {
    r = await rig();
    const device = await r.connect({ clientId: 'd1' });
    const app = await r.connect({ clientId: 'app' });
    await app.subscribeAsync('devices/+/telemetry', { qos: 1 });
    expect(await fanout(r)).toBe(1);
    let arriving = nextMessage(app);
    await device.publishAsync('devices/d1/telemetry', '{"ts":1}', { qos: 1 });
    expect(await arriving).toBe('devices/d1/telemetry {"ts":1}');
    await app.unsubscribeAsync('devices/+/telemetry');
    await settle();
    expect(await fanout(r)).toBe(0);
    await device.publishAsync('devices/d1/telemetry', '{"ts":2}', { qos: 1 });

    // One device's topic opens the gate too; leaving (clean session) closes it.
    const one = await r.connect({ clientId: 'app-2' });
    await one.subscribeAsync('devices/d2/telemetry', { qos: 0 });
    expect(await fanout(r)).toBe(1);
    arriving = nextMessage(one);
    await device.publishAsync('devices/d1/telemetry', '{"ts":3}', { qos: 1 }); // emitted, matches no one
    const d2 = await r.connect({ clientId: 'd2' });
    await d2.publishAsync('devices/d2/telemetry', '{"ts":4}', { qos: 1 });
    expect(await arriving).toBe('devices/d2/telemetry {"ts":4}');
    await one.endAsync();
    await settle();
    expect(await fanout(r)).toBe(0);
    await d2.publishAsync('devices/d2/telemetry', '{"ts":5}', { qos: 1 });
    await settle();
    expect(r.emitted).toEqual(['devices/d1/telemetry', 'devices/d1/telemetry', 'devices/d2/telemetry']);
  });

  it('a persistent session gets what was published while it was away (the gate stays open for it)', async () => {
    r = await rig();
    const first = await r.connect({ clientId: 'app-p', clean: false });
    await first.subscribeAsync('devices/+/telemetry', { qos: 1 });
    await first.endAsync();
    await settle();
    expect(await fanout(r)).toBe(1);
    const device = await r.connect({ clientId: 'd1' });
    await device.publishAsync('devices/d1/telemetry', '{"ts":7}', { qos: 1 });
    const back = connect(r.url, { clientId: 'app-p', clean: false, reconnectPeriod: 0 });
    const arriving = nextMessage(back);
    expect(await arriving).toBe('devices/d1/telemetry {"ts":7}');
    await back.endAsync(true);
  });

  it('disabled (cluster mode): every reading goes to the emitter', async () => {
    r = await rig(false);
    const device = await r.connect({ clientId: 'd1' });
    await device.publishAsync('devices/d1/telemetry', '{"ts":1}', { qos: 1 });
    await settle();
    expect(r.emitted).toEqual(['devices/d1/telemetry']);
    expect(await fanout(r)).toBe(1);
  });
});
