// The batcher's own metrics, created on the registry it is given: readings in and stored, merged
// duplicates, backpressure, store latencies, and the queue gauges, read from the batcher's state
// at scrape time (collect()) once a batcher is bound.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { DEVICE_LATENCY_BUCKETS_SECONDS, LATENCY_BUCKETS_SECONDS } from '../metrics/buckets.ts';

/** What the queue gauges read at scrape time. */
export interface QueueState {
  readonly outstandingReadings: number;
  readonly outstandingBytes: number;
  readonly oldestAgeMs: number;
  readonly inflight: number;
}

export interface BatcherMetrics {
  readonly readingsReceivedTotal: Counter;
  readonly readingsStoredTotal: Counter;
  readonly duplicateReadingsTotal: Counter;
  readonly backpressureWaitsTotal: Counter;
  readonly receiveToStoreSeconds: Histogram;
  readonly deviceToStoreSeconds: Histogram;
  readonly queueReadings: Gauge;
  readonly queueBytes: Gauge;
  readonly queueCapacityReadings: Gauge;
  readonly queueCapacityBytes: Gauge;
  readonly queueOldestAgeSeconds: Gauge;
  readonly inflightBatches: Gauge;
  /** Counts readings queued (iot_ingest_readings_received_total, handed over at scrape time). */
  countReceived(readings: number): void;
  /** Points the queue gauges at a batcher's state (the last one bound wins). */
  bindQueueState(read: () => QueueState): void;
}

export function createBatcherMetrics(registry: Registry): BatcherMetrics {
  const registers = [registry];
  let read: (() => QueueState) | undefined;
  // Readings queued since the last scrape, by every batcher on this registry: a number added to
  // per message, handed to prom-client at scrape time (not a prom-client call per message).
  let receivedPending = 0;
  const gauge = (name: string, help: string, value: (s: QueueState) => number): Gauge =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        if (read) this.set(value(read()));
      },
    });
  return {
    readingsReceivedTotal: new Counter({
      name: 'iot_ingest_readings_received_total',
      help: 'Valid readings decoded from messages and queued for storage.',
      registers,
      collect() {
        if (receivedPending > 0) this.inc(receivedPending);
        receivedPending = 0;
      },
    }),
    countReceived: (readings) => {
      receivedPending += readings;
    },
    readingsStoredTotal: new Counter({ name: 'iot_ingest_readings_stored_total', help: 'Readings written to DynamoDB (BatchWriteItem acknowledged them).', registers }),
    duplicateReadingsTotal: new Counter({ name: 'iot_ingest_duplicate_readings_total', help: 'Readings merged into another with the same (deviceId, ts) inside one batch; the last one wins.', registers }),
    backpressureWaitsTotal: new Counter({ name: 'iot_ingest_backpressure_waits_total', help: 'Messages that had to wait for queue space (the device was slowed down instead of data dropped).', registers }),
    receiveToStoreSeconds: new Histogram({ name: 'iot_ingest_receive_to_store_seconds', help: 'Time from receiving a reading to DynamoDB acknowledging it.', buckets: LATENCY_BUCKETS_SECONDS, registers }),
    deviceToStoreSeconds: new Histogram({ name: 'iot_ingest_device_to_store_seconds', help: 'Time from the reading\'s own ts (device clock) to DynamoDB acknowledging it; includes device buffering and clock skew.', buckets: DEVICE_LATENCY_BUCKETS_SECONDS, registers }),
    queueReadings: gauge('iot_ingest_queue_readings', 'Readings accepted and not yet stored (waiting in the queue or in a request); bounded by maxQueuedReadings.', (s) => s.outstandingReadings),
    queueBytes: gauge('iot_ingest_queue_bytes', 'Approximate item bytes accepted and not yet stored; bounded by maxQueuedBytes.', (s) => s.outstandingBytes),
    queueCapacityReadings: new Gauge({ name: 'iot_ingest_queue_capacity_readings', help: 'Configured bound of the queue in readings (maxQueuedReadings).', registers }),
    queueCapacityBytes: new Gauge({ name: 'iot_ingest_queue_capacity_bytes', help: 'Configured bound of the queue in bytes (maxQueuedBytes).', registers }),
    queueOldestAgeSeconds: gauge('iot_ingest_queue_oldest_age_seconds', 'Age of the oldest reading not yet stored (queued or in flight); 0 when empty.', (s) => s.oldestAgeMs / 1000),
    inflightBatches: gauge('iot_ingest_inflight_batches', 'BatchWriteItem requests in flight (including their retries).', (s) => s.inflight),
    bindQueueState: (r) => {
      read = r;
    },
  };
}
