// The broker's read gate (src/broker/limits/read-gate.ts): while it holds --max-held-messages
// telemetry messages awaiting their PUBACK, it reads no further from device connections; their
// messages wait in TCP buffers and are read, oldest waiting connection first, as held ones are
// released. Shown against a slow store (the real fault proxy delaying every write): the held count
// stays within the bound plus one read, connections are parked meanwhile, a new device can still
// connect, and every acknowledged message is stored. Only messages queued for the store count: a
// device held back by its own rate limit cannot stop the broker reading the others.
import { PassThrough } from 'node:stream';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReadGate } from '../src/broker/limits/read-gate.ts';
import type { FaultProxy } from './helpers/fault-proxy.ts';
import { startFaultedService } from './helpers/faulted-service.ts';
import type { FaultedService } from './helpers/faulted-service.ts';
import { metricValue, scanAll, scrape } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

const MAX_HELD = 20;
const APP = 'gate-app';
const APP_SECRET = 'gate-app-secret-1';
const DEVICES = 4;
const PER_DEVICE = 60;

describe('read gate', () => {
  it('parks connections while full and wakes them oldest first, one at a time while there is room', async () => {
    const gate = new ReadGate(2);
    const [a, b, c] = [new PassThrough(), new PassThrough(), new PassThrough()];
    const woken: string[] = [];
    a.on('readable', () => woken.push('a'));
    b.on('readable', () => {
      woken.push('b');
      gate.enter(); // b's read brings a message: full again
    });
    c.on('readable', () => woken.push('c'));
    expect(gate.mayRead(a)).toBe(true);
    gate.enter();
    gate.enter();
    expect([gate.mayRead(b), gate.mayRead(a), gate.mayRead(c)]).toEqual([false, false, false]);
    expect(gate.parkedConnections).toBe(3);
    gate.forget(c); // closed while waiting
    gate.leave();
    await new Promise((r) => setImmediate(r));
    // Room for one: b (parked first) is woken; its read fills the gate, so a keeps waiting.
    expect(woken).toEqual(['b']);
    expect(gate.parkedConnections).toBe(1);
    gate.leave();
    await new Promise((r) => setImmediate(r));
    expect(woken).toEqual(['b', 'a']);
    expect([gate.parkedConnections, gate.heldMessages]).toEqual([0, 1]);
  });
});

describe('read gate against a slow store', () => {
  let env: FaultedService | undefined;
  let proxy: FaultProxy;
  let svc: TestService;

  beforeAll(async () => {
    env = await startFaultedService({ maxHeldMessages: MAX_HELD, batchSize: 5, lingerMs: 2, wsPort: 0, applications: [`${APP}:${APP_SECRET}`] });
    ({ proxy, svc } = env);
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('holds at most the bound plus one read, parks connections meanwhile, lets a device connect, and stores every message', async () => {
    proxy.setFaults({ delayMs: 400 });
    const devices = await Promise.all(Array.from({ length: DEVICES }, (_, i) => connectAsync(svc.mqttUrl, { clientId: `gate-${i}`, reconnectPeriod: 0 })));
    const ts = Date.now() - 600_000;
    const samples: { held: number; parked: number }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const text = await scrape(svc.httpUrl);
        samples.push({ held: metricValue(text, 'iot_ingest_held_publishes'), parked: metricValue(text, 'iot_ingest_read_paused_connections') });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // Every device sends all its messages at once (QoS 1): 240 outstanding against a bound of 20.
    const sends = devices.flatMap((client, d) =>
      Array.from({ length: PER_DEVICE }, (_, n) => client.publishAsync(`devices/gate-${d}/telemetry`, JSON.stringify({ ts: ts + n, v: n }), { qos: 1 })),
    );
    // While the gate is full, new devices still get their CONNACK, over TCP and over WebSocket
    // (a CONNECT is always read), and an application is never held back: with a keepalive of 1 s
    // its PINGREQs are answered throughout (aedes would close it after 1.5 s without one).
    await expect.poll(() => samples.some((s) => s.parked > 0), { timeout: 10_000 }).toBe(true);
    const app = await connectAsync(svc.mqttUrl, { clientId: APP, username: APP, password: APP_SECRET, keepalive: 1, reconnectPeriod: 0 });
    let appClosed = false;
    app.on('close', () => (appClosed = true));
    const late = await connectAsync(svc.mqttUrl, { clientId: 'gate-late', reconnectPeriod: 0, connectTimeout: 5_000 });
    const wsPort = (svc.service.mqttPorts as Record<string, number>).ws as number;
    const lateWs = await connectAsync(`ws://127.0.0.1:${wsPort}/mqtt`, { clientId: 'gate-late-ws', reconnectPeriod: 0, connectTimeout: 5_000 });
    await Promise.all([
      late.publishAsync('devices/gate-late/telemetry', JSON.stringify({ ts, v: -1 }), { qos: 1 }),
      lateWs.publishAsync('devices/gate-late-ws/telemetry', JSON.stringify({ ts, v: -2 }), { qos: 1 }),
    ]);
    // Keep the store slow for longer than the application's keepalive allows silence.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(samples.filter((s) => s.parked > 0).length).toBeGreaterThan(0);
    expect(appClosed).toBe(false);
    await app.endAsync();
    await Promise.all(sends);
    sampling = false;
    await sampler;
    await Promise.all([...devices, late, lateWs].map((c) => c.endAsync()));

    // One read of a device's connection brings at most its outstanding messages (here all 60 may
    // have arrived in one read): the bound holds up to that.
    const most = Math.max(...samples.map((s) => s.held));
    expect(most).toBeGreaterThanOrEqual(MAX_HELD);
    expect(most).toBeLessThanOrEqual(MAX_HELD + PER_DEVICE);
    expect(samples.filter((s) => s.parked > 0).length).toBeGreaterThan(0);
    const items = await scanAll(svc.clients.doc, svc.config.tableName);
    expect(items).toHaveLength(DEVICES * PER_DEVICE + 2);
    const after = await scrape(svc.httpUrl);
    expect(metricValue(after, 'iot_ingest_held_publishes')).toBe(0);
    expect(metricValue(after, 'iot_ingest_read_paused_connections')).toBe(0);
  });
});

describe('read gate and a device over its rate', () => {
  let env: FaultedService | undefined;
  let svc: TestService;

  beforeAll(async () => {
    env = await startFaultedService({ maxHeldMessages: MAX_HELD, maxMessagesPerSecond: 5, maxRateHoldMs: 10_000, lingerMs: 2 });
    ({ svc } = env);
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('does not count the messages a rate limit holds: another device is read and acknowledged meanwhile', async () => {
    const flooder = await connectAsync(svc.mqttUrl, { clientId: 'gate-flooder', reconnectPeriod: 0 });
    const other = await connectAsync(svc.mqttUrl, { clientId: 'gate-other', reconnectPeriod: 0 });
    const ts = Date.now() - 600_000;
    // 35 at once against 5 per second: 5 go through, the other 30 are held by the rate step for up
    // to 6 s, more than the read gate's bound of 20.
    const flood = Array.from({ length: 35 }, (_, n) => flooder.publishAsync('devices/gate-flooder/telemetry', JSON.stringify({ ts: ts + n, v: n }), { qos: 1 }));
    await expect.poll(async () => metricValue(await scrape(svc.httpUrl), 'iot_ingest_rate_held_publishes'), { timeout: 5_000 }).toBeGreaterThan(MAX_HELD);
    // The other device, within its rate: every message acknowledged while the flooder's are still held.
    await Promise.all(Array.from({ length: 5 }, (_, n) => other.publishAsync('devices/gate-other/telemetry', JSON.stringify({ ts: ts + n, v: n }), { qos: 1 })));
    const text = await scrape(svc.httpUrl);
    expect(metricValue(text, 'iot_ingest_rate_held_publishes')).toBeGreaterThan(MAX_HELD);
    expect(metricValue(text, 'iot_ingest_read_paused_connections')).toBe(0);
    await Promise.all(flood);
    await Promise.all([flooder.endAsync(), other.endAsync()]);
    const stored = await scanAll(svc.clients.doc, svc.config.tableName);
    expect(stored.filter((i) => i.deviceId === 'gate-other')).toHaveLength(5);
    expect(stored.filter((i) => i.deviceId === 'gate-flooder')).toHaveLength(35);
  });
});
