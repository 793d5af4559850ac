// Every metric the service exports, in one place. Names carry the prefix `iot_ingest_` and their
// unit; no label ever holds a device id (unbounded cardinality). docs/metrics.md explains each one.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const MESSAGE_RESULTS = ['stored', 'invalid', 'forbidden', 'limited', 'failed'] as const;
export type MessageResult = (typeof MESSAGE_RESULTS)[number];

export const DISCONNECT_REASONS = ['client', 'error', 'keepalive', 'forbidden', 'overloaded', 'store_failed', 'shutdown'] as const;
export type DisconnectReason = (typeof DISCONNECT_REASONS)[number];

export const REQUEST_OUTCOMES = ['ok', 'partial', 'throttled', 'error', 'validation'] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

export const RETRY_REASONS = ['unprocessed', 'throttled', 'server_error', 'network'] as const;
export type RetryReason = (typeof RETRY_REASONS)[number];

/** Seconds buckets from 1 ms to 30 s: PUBACK, store and DynamoDB latencies all fall in here. */
const LATENCY_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];
const DEVICE_LATENCY_BUCKETS_SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600];

export interface Metrics {
  readonly registry: Registry;
  readonly connectedClients: Gauge;
  readonly connectsTotal: Counter;
  readonly disconnectsTotal: Counter<'reason'>;
  readonly messagesReceivedTotal: Counter<'result'>;
  readonly receivedBytesTotal: Counter;
  readonly invalidMessagesTotal: Counter<'reason'>;
  readonly readingsReceivedTotal: Counter;
  readonly readingsStoredTotal: Counter;
  readonly duplicateReadingsTotal: Counter;
  readonly batchSizeReadings: Histogram;
  readonly dynamodbRequestDurationSeconds: Histogram<'operation' | 'outcome'>;
  readonly dynamodbErrorsTotal: Counter<'operation' | 'code'>;
  readonly dynamodbThrottlesTotal: Counter<'operation'>;
  readonly unprocessedItemsTotal: Counter;
  readonly writeRetriesTotal: Counter<'reason'>;
  readonly consumedWriteCapacityUnitsTotal: Counter<'table'>;
  readonly queueReadings: Gauge;
  readonly queueBytes: Gauge;
  readonly queueCapacityReadings: Gauge;
  readonly queueCapacityBytes: Gauge;
  readonly queueOldestAgeSeconds: Gauge;
  readonly inflightBatches: Gauge;
  readonly heldPublishes: Gauge;
  readonly backpressureWaitsTotal: Counter;
  readonly pubackLatencySeconds: Histogram;
  readonly receiveToStoreSeconds: Histogram;
  readonly deviceToStoreSeconds: Histogram;
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
    readingsReceivedTotal: new Counter({
      name: 'iot_ingest_readings_received_total',
      help: 'Valid readings decoded from messages and queued for storage.',
      registers,
    }),
    readingsStoredTotal: new Counter({
      name: 'iot_ingest_readings_stored_total',
      help: 'Readings written to DynamoDB (BatchWriteItem acknowledged them).',
      registers,
    }),
    duplicateReadingsTotal: new Counter({
      name: 'iot_ingest_duplicate_readings_total',
      help: 'Readings merged into another with the same (deviceId, ts) inside one batch; the last one wins.',
      registers,
    }),
    batchSizeReadings: new Histogram({
      name: 'iot_ingest_batch_size_readings',
      help: 'Items per BatchWriteItem request sent (max 25). Batch fill = sum / count / 25.',
      buckets: [1, 2, 5, 10, 15, 20, 24, 25],
      registers,
    }),
    dynamodbRequestDurationSeconds: new Histogram({
      name: 'iot_ingest_dynamodb_request_duration_seconds',
      help: 'Duration of each DynamoDB request, by operation and outcome (ok, partial = some UnprocessedItems, throttled, error, validation).',
      labelNames: ['operation', 'outcome'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    }),
    dynamodbErrorsTotal: new Counter({
      name: 'iot_ingest_dynamodb_errors_total',
      help: 'DynamoDB requests that failed, by operation and error code (the SDK error name, or NetworkError).',
      labelNames: ['operation', 'code'],
      registers,
    }),
    dynamodbThrottlesTotal: new Counter({
      name: 'iot_ingest_dynamodb_throttles_total',
      help: 'DynamoDB requests refused by throttling (ProvisionedThroughputExceeded, Throttling, RequestLimitExceeded).',
      labelNames: ['operation'],
      registers,
    }),
    unprocessedItemsTotal: new Counter({
      name: 'iot_ingest_unprocessed_items_total',
      help: 'Items DynamoDB returned in UnprocessedItems (each is resent).',
      registers,
    }),
    writeRetriesTotal: new Counter({
      name: 'iot_ingest_write_retries_total',
      help: 'BatchWriteItem resends, by reason: unprocessed, throttled, server_error, network.',
      labelNames: ['reason'],
      registers,
    }),
    consumedWriteCapacityUnitsTotal: new Counter({
      name: 'iot_ingest_consumed_write_capacity_units_total',
      help: 'Write capacity units DynamoDB reports as consumed (ReturnConsumedCapacity), by table.',
      labelNames: ['table'],
      registers,
    }),
    // Registered before the other point-in-time gauges: its collect() runs the samplers first.
    queueReadings: new Gauge({
      name: 'iot_ingest_queue_readings',
      help: 'Readings accepted and not yet stored (waiting in the queue or in a request); bounded by maxQueuedReadings.',
      registers,
      collect() {
        for (const sample of samplers) sample();
      },
    }),
    queueBytes: new Gauge({
      name: 'iot_ingest_queue_bytes',
      help: 'Approximate item bytes accepted and not yet stored; bounded by maxQueuedBytes.',
      registers,
    }),
    queueCapacityReadings: new Gauge({
      name: 'iot_ingest_queue_capacity_readings',
      help: 'Configured bound of the queue in readings (maxQueuedReadings).',
      registers,
    }),
    queueCapacityBytes: new Gauge({
      name: 'iot_ingest_queue_capacity_bytes',
      help: 'Configured bound of the queue in bytes (maxQueuedBytes).',
      registers,
    }),
    queueOldestAgeSeconds: new Gauge({
      name: 'iot_ingest_queue_oldest_age_seconds',
      help: 'Age of the oldest reading not yet stored (queued or in flight); 0 when empty.',
      registers,
    }),
    inflightBatches: new Gauge({
      name: 'iot_ingest_inflight_batches',
      help: 'BatchWriteItem requests in flight (including their retries).',
      registers,
    }),
    heldPublishes: new Gauge({
      name: 'iot_ingest_held_publishes',
      help: 'PUBLISH packets whose acknowledgement is held: waiting for queue space or for storage.',
      registers,
    }),
    backpressureWaitsTotal: new Counter({
      name: 'iot_ingest_backpressure_waits_total',
      help: 'Messages that had to wait for queue space (the device was slowed down instead of data dropped).',
      registers,
    }),
    pubackLatencySeconds: new Histogram({
      name: 'iot_ingest_puback_latency_seconds',
      help: 'Time from receiving a QoS 1 PUBLISH to releasing its PUBACK (durable mode: includes the DynamoDB write).',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    }),
    receiveToStoreSeconds: new Histogram({
      name: 'iot_ingest_receive_to_store_seconds',
      help: 'Time from receiving a reading to DynamoDB acknowledging it.',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    }),
    deviceToStoreSeconds: new Histogram({
      name: 'iot_ingest_device_to_store_seconds',
      help: 'Time from the reading\'s own ts (device clock) to DynamoDB acknowledging it; includes device buffering and clock skew.',
      buckets: DEVICE_LATENCY_BUCKETS_SECONDS,
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
  for (const reason of RETRY_REASONS) metrics.writeRetriesTotal.inc({ reason }, 0);
  for (const reason of options.invalidReasons ?? []) metrics.invalidMessagesTotal.inc({ reason }, 0);
  for (const reason of options.deadLetterReasons ?? []) metrics.deadLetteredTotal.inc({ reason }, 0);
  for (const operation of ['BatchWriteItem']) {
    metrics.dynamodbThrottlesTotal.inc({ operation }, 0);
    for (const outcome of REQUEST_OUTCOMES) metrics.dynamodbRequestDurationSeconds.zero({ operation, outcome });
  }
  return metrics;
}
