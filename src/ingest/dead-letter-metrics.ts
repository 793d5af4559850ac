// Metrics of the dead-letter path that the shared registry does not hold: how many dead-letter
// writes are in flight and waiting against their bound, what was dropped for lack of room, and how
// many payloads were kept only as a preview. Registered on the service's own Registry.
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

export const DEAD_LETTER_DROP_REASONS = ['overloaded'] as const;
export type DeadLetterDropReason = (typeof DEAD_LETTER_DROP_REASONS)[number];

export interface DeadLetterGauges {
  readonly inflight: number;
  readonly waiting: number;
  readonly capacity: number;
}

export interface DeadLetterMetrics {
  readonly droppedTotal: Counter<'reason'>;
  readonly truncatedTotal: Counter;
}

export function createDeadLetterMetrics(registry: Registry, gauges: () => DeadLetterGauges): DeadLetterMetrics {
  const registers = [registry];
  new Gauge({
    name: 'iot_ingest_dead_letter_writes_inflight',
    help: 'Dead-letter writes in progress (including their retries); bounded by deadLetterMaxInflight.',
    registers,
    collect() {
      this.set(gauges().inflight);
    },
  });
  new Gauge({
    name: 'iot_ingest_dead_letter_writes_waiting',
    help: 'QoS 1 dead-letter records waiting for a free write slot (their PUBACK waits: backpressure).',
    registers,
    collect() {
      this.set(gauges().waiting);
    },
  });
  new Gauge({
    name: 'iot_ingest_dead_letter_writes_capacity',
    help: 'Configured bound of dead-letter writes in flight (deadLetterMaxInflight).',
    registers,
    collect() {
      this.set(gauges().capacity);
    },
  });
  const droppedTotal = new Counter({
    name: 'iot_ingest_dead_letter_dropped_total',
    help: 'Dead-letter records not written, by reason: overloaded (a QoS 0 message arrived while every dead-letter write slot was taken).',
    labelNames: ['reason'],
    registers,
  });
  for (const reason of DEAD_LETTER_DROP_REASONS) droppedTotal.inc({ reason }, 0);
  const truncatedTotal = new Counter({
    name: 'iot_ingest_dead_letter_truncated_total',
    help: 'Dead-letter records written with a payload preview plus size and SHA-256 instead of the whole payload (payload too large for a DynamoDB item).',
    registers,
  });
  return { droppedTotal, truncatedTotal };
}
