// The DynamoDB sink's own metrics, created on the registry it is given: requests, their outcomes
// and durations, errors by code, throttling, UnprocessedItems, retries and consumed capacity.
import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { LATENCY_BUCKETS_SECONDS } from '../../metrics/buckets.ts';

export const REQUEST_OUTCOMES = ['ok', 'partial', 'throttled', 'error', 'validation'] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

export const RETRY_REASONS = ['unprocessed', 'throttled', 'server_error', 'network'] as const;
export type RetryReason = (typeof RETRY_REASONS)[number];

export interface WriteMetrics {
  readonly batchSizeReadings: Histogram;
  readonly dynamodbRequestDurationSeconds: Histogram<'operation' | 'outcome'>;
  readonly dynamodbErrorsTotal: Counter<'operation' | 'code'>;
  readonly dynamodbThrottlesTotal: Counter<'operation'>;
  readonly unprocessedItemsTotal: Counter;
  readonly writeRetriesTotal: Counter<'reason'>;
  readonly consumedWriteCapacityUnitsTotal: Counter<'table'>;
}

export function createWriteMetrics(registry: Registry): WriteMetrics {
  const registers = [registry];
  const m: WriteMetrics = {
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
  };
  // Every known label value is exported from the first scrape on, at 0.
  for (const reason of RETRY_REASONS) m.writeRetriesTotal.inc({ reason }, 0);
  for (const operation of ['BatchWriteItem']) {
    m.dynamodbThrottlesTotal.inc({ operation }, 0);
    for (const outcome of REQUEST_OUTCOMES) m.dynamodbRequestDurationSeconds.zero({ operation, outcome });
  }
  return m;
}
