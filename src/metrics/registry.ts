// The service's metrics registry, and the broker-side metrics (connections, messages, PUBACK
// latency, dead-letter, readiness). The batcher (src/ingest/batcher-metrics.ts) and the DynamoDB
// sink (src/storage/dynamodb/metrics.ts) own theirs and create them on the same registry; the
// Metrics object gathers them for the components that are handed all of it. Names carry the prefix
// `iot_ingest_` and their unit; no label ever holds a device id. docs/metrics.md explains each one.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { LATENCY_BUCKETS_SECONDS } from './buckets.ts';
import { createBatcherMetrics } from '../ingest/batcher-metrics.ts';
import type { BatcherMetrics } from '../ingest/batcher-metrics.ts';
import { createWriteMetrics } from '../storage/dynamodb/metrics.ts';
import type { WriteMetrics } from '../storage/dynamodb/metrics.ts';

export { REQUEST_OUTCOMES, RETRY_REASONS } from '../storage/dynamodb/metrics.ts';
export type { RequestOutcome, RetryReason } from '../storage/dynamodb/metrics.ts';

export const MESSAGE_RESULTS = ['stored', 'invalid', 'forbidden', 'limited', 'failed'] as const;
export type MessageResult = (typeof MESSAGE_RESULTS)[number];

export const DISCONNECT_REASONS = ['client', 'error', 'keepalive', 'forbidden', 'overloaded', 'store_failed', 'shutdown'] as const;
export type DisconnectReason = (typeof DISCONNECT_REASONS)[number];

export interface Metrics extends BatcherMetrics, WriteMetrics {
  readonly registry: Registry;
  readonly connectedClients: Gauge;
  readonly connectsTotal: Counter;
  readonly disconnectsTotal: Counter<'reason'>;
  readonly messagesReceivedTotal: Counter<'result'>;
  readonly receivedBytesTotal: Counter;
  readonly invalidMessagesTotal: Counter<'reason'>;
  readonly heldPublishes: Gauge;
  readonly pubackLatencySeconds: Histogram;
  readonly deadLetteredTotal: Counter<'reason'>;
  readonly deadLetterWriteFailuresTotal: Counter;
  readonly ready: Gauge;
  readonly buildInfo: Gauge<'version' | 'ack_mode'>;
  /** Registers a function run at every scrape, before point-in-time gauges are read. */
  addSampler(sample: () => void): void;
}

/** Invalid-message and dead-letter reasons, passed in so that every label value is exported from the start. */
export interface MetricsOptions {
  readonly invalidReasons?: readonly string[];
  readonly deadLetterReasons?: readonly string[];
  /** Collect prom-client's default Node.js metrics (CPU, memory, event-loop lag, GC). */
  readonly defaultMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  }
  const registers = [registry];
  const samplers: (() => void)[] = [];

  const metrics: Metrics = {
    registry,
    ...createBatcherMetrics(registry),
    ...createWriteMetrics(registry),
    connectedClients: new Gauge({
      name: 'iot_ingest_connected_clients',
      help: 'MQTT clients connected right now.',
      registers,
    }),
    connectsTotal: new Counter({
      name: 'iot_ingest_client_connects_total',
      help: 'MQTT connections accepted (CONNACK sent).',
      registers,
    }),
    disconnectsTotal: new Counter({
      name: 'iot_ingest_client_disconnects_total',
      help: 'MQTT clients gone, by reason: client (DISCONNECT or socket closed), error, keepalive, forbidden (topic refused), overloaded (no queue space within maxHoldMs), store_failed (write retries exhausted), shutdown.',
      labelNames: ['reason'],
      registers,
    }),
    messagesReceivedTotal: new Counter({
      name: 'iot_ingest_messages_received_total',
      help: 'PUBLISH packets received, by final result: stored, invalid (dead-lettered), forbidden (topic refused), limited (service overloaded, not acknowledged), failed (storage gave up, not acknowledged).',
      labelNames: ['result'],
      registers,
    }),
    receivedBytesTotal: new Counter({
      name: 'iot_ingest_received_bytes_total',
      help: 'Payload bytes received on telemetry topics.',
      registers,
    }),
    invalidMessagesTotal: new Counter({
      name: 'iot_ingest_invalid_messages_total',
      help: 'Messages rejected as invalid, by reason (each is dead-lettered and still acknowledged).',
      labelNames: ['reason'],
      registers,
    }),
    heldPublishes: new Gauge({
      name: 'iot_ingest_held_publishes',
      help: 'PUBLISH packets whose acknowledgement is held: waiting for queue space or for storage.',
      registers,
    }),
    pubackLatencySeconds: new Histogram({
      name: 'iot_ingest_puback_latency_seconds',
      help: 'Time from receiving a QoS 1 PUBLISH to releasing its PUBACK (durable mode: includes the DynamoDB write).',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    }),
    deadLetteredTotal: new Counter({
      name: 'iot_ingest_dead_lettered_total',
      help: 'Messages or readings written to the dead-letter table, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    deadLetterWriteFailuresTotal: new Counter({
      name: 'iot_ingest_dead_letter_write_failures_total',
      help: 'Dead-letter records that could not be written (logged as one line without the payload).',
      registers,
    }),
    ready: new Gauge({
      name: 'iot_ingest_ready',
      help: '1 when the service accepts traffic (table reachable, not shutting down), else 0.',
      registers,
      collect() {
        for (const sample of samplers) sample();
      },
    }),
    buildInfo: new Gauge({
      name: 'iot_ingest_build_info',
      help: 'Always 1; labels carry the version and the ack mode.',
      labelNames: ['version', 'ack_mode'],
      registers,
    }),
    addSampler: (sample) => samplers.push(sample),
  };
  // Every known label value is exported from the first scrape on, at 0, so that dashboards and
  // alerts see a series (rate() of a missing series is no data, not zero).
  for (const result of MESSAGE_RESULTS) metrics.messagesReceivedTotal.inc({ result }, 0);
  for (const reason of DISCONNECT_REASONS) metrics.disconnectsTotal.inc({ reason }, 0);
  for (const reason of options.invalidReasons ?? []) metrics.invalidMessagesTotal.inc({ reason }, 0);
  for (const reason of options.deadLetterReasons ?? []) metrics.deadLetteredTotal.inc({ reason }, 0);
  return metrics;
}
