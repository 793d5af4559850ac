// Feeds the presence tracker from the broker: a device's connection (after CONNACK), its
// disconnection with the reason, and its pings. A connection taken over by a newer one with the
// same device id does not mark the device offline.
import type { Aedes, Client } from 'aedes';
import { deviceIdOf } from '../broker/identity.ts';
import type { PresenceTracker } from './tracker.ts';

export interface PresenceHooks {
  /** To be called by the broker with the reason of each disconnection. */
  onDisconnect(client: Client, reason: string): void;
}

export function attachPresence(aedes: Aedes, tracker: PresenceTracker, now: () => number = Date.now): PresenceHooks {
  const connectedAt = new WeakMap<Client, number>();
  const current = new Map<string, Client>();
  aedes.on('clientReady', (client) => {
    const deviceId = deviceIdOf(client);
    if (deviceId === undefined) return;
    const at = now();
    connectedAt.set(client, at);
    current.set(deviceId, client);
    tracker.connected(deviceId, at, sourceAddressOf(client));
  });
  aedes.on('ping', (_packet, client) => {
    const deviceId = deviceIdOf(client);
    if (deviceId !== undefined) tracker.seen(deviceId);
  });
  return {
    onDisconnect(client, reason) {
      const deviceId = deviceIdOf(client);
      const at = connectedAt.get(client);
      if (deviceId === undefined || at === undefined || current.get(deviceId) !== client) return;
      current.delete(deviceId);
      tracker.disconnected(deviceId, at, reason);
    },
  };
}

/** The device's address: from the PROXY protocol header when there is one, else the socket's peer. */
export function sourceAddressOf(client: Client): string | undefined {
  const details = (client as unknown as { connDetails?: { ipAddress?: string } | null }).connDetails;
  const conn = client.conn as { remoteAddress?: string };
  return details?.ipAddress ?? conn.remoteAddress ?? undefined;
}
