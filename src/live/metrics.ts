// The live tail's own metrics: subscribers, what they were sent, what was skipped and why.
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

export interface LiveMetrics {
  readonly delivered: Counter<'transport'>;
  readonly skipped: Counter<'transport' | 'reason'>;
  readonly dropped: Counter<'transport'>;
  readonly refused: Counter;
}

export function createLiveMetrics(registry: Registry, subscribers: () => { sse: number; mqtt: number }): LiveMetrics {
  new Gauge({
    name: 'iot_ingest_live_subscribers',
    help: 'Live tail subscribers on this replica, by transport (sse, mqtt).',
    labelNames: ['transport'],
    registers: [registry],
    collect() {
      const s = subscribers();
      this.set({ transport: 'sse' }, s.sse);
      this.set({ transport: 'mqtt' }, s.mqtt);
    },
  });
  return {
    delivered: new Counter({ name: 'iot_ingest_live_readings_sent_total', help: 'Stored readings sent to live subscribers, by transport.', labelNames: ['transport'], registers: [registry] }),
    skipped: new Counter({
      name: 'iot_ingest_live_readings_skipped_total',
      help: 'Stored readings a live subscriber did not get: slow (unsent bytes over the bound) or rate (over the all-devices stream bound).',
      labelNames: ['transport', 'reason'],
      registers: [registry],
    }),
    dropped: new Counter({
      name: 'iot_ingest_live_subscribers_dropped_total',
      help: 'Live subscribers disconnected for staying too slow (skipping without a break for 30 s).',
      labelNames: ['transport'],
      registers: [registry],
    }),
    refused: new Counter({ name: 'iot_ingest_live_streams_refused_total', help: 'SSE streams refused with 503 because the subscriber bound was reached.', registers: [registry] }),
  };
}
