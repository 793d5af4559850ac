// aedes' preConnect hook: what a CONNECT must satisfy before authentication runs. CONNECTs per
// source address per second, an empty client id with clean=0 (MQTT 3.1.1 §3.1.3-8: CONNACK 2),
// the client-id length and the keepalive bounds. Refusals that MQTT 3.1.1 answers get their CONNACK
// written before the connection closes; a connect-rate refusal is closed unanswered (cheapest).
// Keepalive out of bounds is answered with CONNACK 2, as Mosquitto does: 3.1.1 has no better code.
import type { Client, ConnectPacket } from 'aedes';
import { IngestError } from '../errors.ts';
import type { ConnectionGate } from './limits/connection-gate.ts';
import type { LimitMetrics } from './limits/limit-metrics.ts';
import { connectionOf } from './listeners/connection-info.ts';
import { refuseWithConnack } from './connack.ts';

export interface ConnectCheckLimits {
  readonly maxClientIdLength: number;
  readonly maxKeepaliveSeconds: number;
  readonly allowKeepaliveZero: boolean;
}

export type PreConnect = (client: Client, packet: ConnectPacket, callback: (error: Error | null, success: boolean) => void) => void;

export function createPreConnect(limits: ConnectCheckLimits, gate: ConnectionGate, metrics: LimitMetrics): PreConnect {
  return (client, packet, callback) => {
    const ip = connectionOf(client.conn)?.remoteAddress ?? 'unknown';
    if (!gate.allowConnect(ip)) {
      metrics.limitHits.inc({ limit: 'connect_rate' });
      return callback(new IngestError('LIMIT_EXCEEDED', `more than the allowed CONNECTs per second from ${ip}`), false);
    }
    const clientId = packet.clientId ?? '';
    if (clientId === '' && packet.clean === false) {
      metrics.protocolViolations.inc({ violation: 'empty_client_id' });
      return refuseWithConnack(client, 2, 'an empty client id needs clean session (MQTT-3.1.3-8)', callback);
    }
    if (clientId.length > limits.maxClientIdLength) {
      metrics.limitHits.inc({ limit: 'client_id_length' });
      return refuseWithConnack(client, 2, `client id longer than ${limits.maxClientIdLength} characters`, callback);
    }
    const keepalive = packet.keepalive ?? 0;
    if ((keepalive === 0 && !limits.allowKeepaliveZero) || keepalive > limits.maxKeepaliveSeconds) {
      metrics.limitHits.inc({ limit: 'keepalive' });
      const allowed = `1..${limits.maxKeepaliveSeconds}${limits.allowKeepaliveZero ? ' or 0' : ''}`;
      return refuseWithConnack(client, 2, `keepalive ${keepalive} s is outside ${allowed}`, callback);
    }
    callback(null, true);
  };
}
