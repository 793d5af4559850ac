// MQTT applications on the live topic $stored/devices/{deviceId}/telemetry (or +): each becomes a
// hub subscriber while it holds such a subscription. Readings go out at QoS 0, written straight to
// the client, never through the broker's emitter, so a slow application cannot hold up the
// emitter that device publishes also pass through.
import type { Aedes, Client } from 'aedes';
import { effectiveIdentity } from '../broker/identity.ts';
import { filterMatches, subscriptionsOf } from '../broker/internals.ts';
import type { LiveHub, LiveSubscriber } from './hub.ts';

export const STORED_TOPIC_PREFIX = '$stored/';

export function storedTopic(deviceId: string): string {
  return `${STORED_TOPIC_PREFIX}devices/${deviceId}/telemetry`;
}

export function attachMqttLive(aedes: Aedes, hub: LiveHub): void {
  const registered = new Map<Client, () => void>();
  const refresh = (client: Client): void => {
    const filters = subscriptionsOf(client).filter((f) => f.startsWith(STORED_TOPIC_PREFIX));
    registered.get(client)?.();
    registered.delete(client);
    if (filters.length === 0 || client.closed || effectiveIdentity(client)?.role !== 'application') return;
    const conn = client.conn as { writableLength?: number; destroy?: () => void };
    const subscriber: LiveSubscriber = {
      transport: 'mqtt',
      accepts: (deviceId) => filters.some((f) => filterMatches(f, storedTopic(deviceId))),
      bufferedBytes: () => conn.writableLength ?? 0,
      send: (event) => client.publish({ cmd: 'publish', topic: storedTopic(event.deviceId), payload: Buffer.from(event.json), qos: 0, retain: false, dup: false }, () => undefined),
      drop: () => client.close(),
    };
    registered.set(client, hub.add(subscriber));
  };
  aedes.on('clientReady', refresh);
  aedes.on('subscribe', (_subs, client) => refresh(client));
  aedes.on('unsubscribe', (_topics, client) => refresh(client));
  aedes.on('clientDisconnect', (client) => {
    registered.get(client)?.();
    registered.delete(client);
  });
}
