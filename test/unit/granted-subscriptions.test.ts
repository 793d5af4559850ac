// A persistent session stores only the filters it was granted (src/broker/granted-subscriptions.ts),
// over real aedes and mqtt.js: aedes hands its persistence every filter of a SUBSCRIBE, refused ones
// included, so without the guard a device that asked for devices/+/telemetry beside its own commands
// (SUBACK 0x80 for it) was queued other devices' readings while away, and got them on its return.
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { Aedes } from 'aedes';
import { connect, connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { storeGrantedSubscriptionsOnly } from '../../src/broker/granted-subscriptions.ts';
import { gateTelemetryFanOut } from '../../src/broker/telemetry-fan-out.ts';

describe('persistent sessions store only granted filters', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  async function rig(guarded: boolean): Promise<{ url: string; registry: Registry }> {
    const broker = await Aedes.createBroker({
      // Like the service's ACL for devices: only their own command topics.
      authorizeSubscribe: (client, sub, callback) => callback(null, client && sub.topic === `devices/${client.id}/commands/#` ? sub : null),
    });
    const registry = new Registry();
    // The order of src/broker/server.ts.
    gateTelemetryFanOut(broker, registry, { enabled: true });
    if (guarded) storeGrantedSubscriptionsOnly(broker);
    const server: Server = createServer(broker.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const clients: MqttClient[] = [];
    close = async () => {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    };
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const first = await connectAsync(url, { clientId: 'dev-b', clean: false, reconnectPeriod: 0 });
    // mqtt.js rejects a SUBACK with a failure code; the codes are on the error.
    const granted = await first.subscribeAsync({ 'devices/dev-b/commands/#': { qos: 1 }, 'devices/+/telemetry': { qos: 1 } }).then(
      () => 'all granted',
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
    );
    expect(granted).toEqual([1, 128]);
    await first.endAsync();
    // While dev-b is away: a reading of dev-a, then a command for dev-b.
    const other = await connectAsync(url, { clientId: 'dev-a', reconnectPeriod: 0 });
    clients.push(other);
    await other.publishAsync('devices/dev-a/telemetry', '{"ts":1,"secret":42}', { qos: 1 });
    await other.publishAsync('devices/dev-b/commands/reboot', '{}', { qos: 1 });
    return { url, registry };
  }

  /** What the session gets on its return, up to (and with) the command queued after the reading. */
  async function onReturn(url: string): Promise<string[]> {
    const back = connect(url, { clientId: 'dev-b', clean: false, reconnectPeriod: 0 });
    const got: string[] = [];
    await new Promise<void>((resolve) =>
      back.on('message', (topic) => {
        got.push(topic);
        if (topic === 'devices/dev-b/commands/reboot') resolve();
      }),
    );
    await back.endAsync(true);
    return got;
  }

  it('the session gets its command and not the reading its refused filter matched; the fan-out gate stays closed', async () => {
    const { url, registry } = await rig(true);
    expect((await registry.getSingleMetric('iot_ingest_telemetry_fanout')?.get())?.values[0]?.value).toBe(0);
    expect(await onReturn(url)).toEqual(['devices/dev-b/commands/reboot']);
  });

  it('without the guard (aedes as it is) the refused filter leaks the reading', async () => {
    const { url } = await rig(false);
    expect(await onReturn(url)).toEqual(['devices/dev-a/telemetry', 'devices/dev-b/commands/reboot']);
  });
});
