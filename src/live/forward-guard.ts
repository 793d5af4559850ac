// aedes' authorizeForward for raw telemetry (devices/{id}/telemetry, which only applications may
// subscribe to). aedes holds each forward's callback until the subscriber's socket drains, and a
// device's PUBACK waits for its publish to be forwarded to every subscriber: an application that
// stops reading would hold devices' PUBACKs (up to aedes' drain timeout). So the broker's own
// forward is declined, and the message is handed to the subscriber on the side, at QoS 0, with a
// callback nobody waits for; a subscriber with a socket waiting to drain (or more than the live
// bound unsent) skips it, counted like a slow live subscriber.
import type { Client } from 'aedes';
import { hasTelemetryShape } from '../broker/topic.ts';
import type { LiveMetrics } from './metrics.ts';

export function createForwardGuard(maxBufferedBytes: number, metrics: LiveMetrics): <P extends { topic: string; payload: Buffer | string }>(client: Client, packet: P) => P | null {
  /** Payload copies this guard handed out: their own forward passes. */
  const relayed = new WeakSet<Buffer>();
  return (client, packet) => {
    if (!hasTelemetryShape(packet.topic)) return packet;
    if (typeof packet.payload !== 'string' && relayed.has(packet.payload)) return packet;
    const conn = client.conn as { writableNeedDrain?: boolean; writableLength?: number };
    if (conn.writableNeedDrain === true || (conn.writableLength ?? 0) > maxBufferedBytes) {
      metrics.skipped.inc({ transport: 'mqtt', reason: 'slow' });
      return null;
    }
    const payload = Buffer.from(packet.payload);
    relayed.add(payload);
    client.publish({ cmd: 'publish', topic: packet.topic, payload, qos: 0, retain: false, dup: false }, () => undefined);
    return null;
  };
}
