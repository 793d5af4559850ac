// The broker's own metrics for its limits and listeners: every limit hit is counted with the limit's
// name, every protocol violation the broker refuses with its kind. Registered on the service's
// Registry by the broker (not in src/metrics/registry.ts), documented in docs/metrics.md.
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

export const LIMITS = [
  'packet_bytes',
  'buffered_bytes',
  'connections_total',
  'connections_per_ip',
  'connect_rate',
  'connect_timeout',
  'keepalive',
  'client_id_length',
  'topic_bytes',
  'topic_levels',
  'drain_timeout',
  'message_rate',
  'reading_rate',
  'rate_hold',
] as const;
export type LimitName = (typeof LIMITS)[number];

export const PROTOCOL_VIOLATIONS = ['packet_id_zero', 'empty_client_id', 'protocol_level', 'malformed'] as const;
export type ProtocolViolation = (typeof PROTOCOL_VIOLATIONS)[number];

export const LISTENER_NAMES = ['tcp', 'tls', 'ws', 'wss'] as const;
export type ListenerName = (typeof LISTENER_NAMES)[number];

export interface LimitMetrics {
  readonly limitHits: Counter<'limit'>;
  readonly protocolViolations: Counter<'violation'>;
  readonly tlsHandshakeFailures: Counter<'listener'>;
  readonly tlsReloads: Counter<'result'>;
  readonly rateHeldPublishes: Gauge;
}

/** Creates the counters on `registry`; `openConnections` feeds the per-listener gauge at scrape time. */
export function createLimitMetrics(registry: Registry, openConnections: () => ReadonlyMap<ListenerName, number>): LimitMetrics {
  const registers = [registry];
  const limitHits = new Counter({
    name: 'iot_ingest_limit_hits_total',
    help: 'Times a broker limit was hit, by limit (what happened then is in docs/metrics.md).',
    labelNames: ['limit'],
    registers,
  });
  for (const limit of LIMITS) limitHits.inc({ limit }, 0);
  const protocolViolations = new Counter({
    name: 'iot_ingest_protocol_violations_total',
    help: 'MQTT packets refused as protocol violations (the connection is closed), by kind.',
    labelNames: ['violation'],
    registers,
  });
  for (const violation of PROTOCOL_VIOLATIONS) protocolViolations.inc({ violation }, 0);
  new Gauge({
    name: 'iot_ingest_listener_connections',
    help: 'Open MQTT connections (accepted sockets, before and after CONNECT) by listener.',
    labelNames: ['listener'],
    registers,
    collect() {
      const open = openConnections();
      for (const listener of LISTENER_NAMES) this.set({ listener }, open.get(listener) ?? 0);
    },
  });
  const tlsHandshakeFailures = new Counter({
    name: 'iot_ingest_tls_handshake_failures_total',
    help: 'TLS handshakes that failed (no, untrusted or expired client certificate; bad protocol version), by listener.',
    labelNames: ['listener'],
    registers,
  });
  tlsHandshakeFailures.inc({ listener: 'tls' }, 0);
  tlsHandshakeFailures.inc({ listener: 'wss' }, 0);
  const tlsReloads = new Counter({
    name: 'iot_ingest_tls_reloads_total',
    help: 'Reloads of the TLS certificate files (SIGHUP), by result (ok | error: the old certificate stays in use).',
    labelNames: ['result'],
    registers,
  });
  tlsReloads.inc({ result: 'ok' }, 0);
  tlsReloads.inc({ result: 'error' }, 0);
  const rateHeldPublishes = new Gauge({
    name: 'iot_ingest_rate_held_publishes',
    help: 'PUBLISH packets held right now because their device is over its message or reading rate.',
    registers,
  });
  return { limitHits, protocolViolations, tlsHandshakeFailures, tlsReloads, rateHeldPublishes };
}
