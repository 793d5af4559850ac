// Presence's own metrics: how many connection events came in and how few registry writes they became.
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

export interface PresenceMetrics {
  readonly events: Counter<'event'>;
  readonly writes: Counter<'result'>;
  readonly flushes: Counter;
}

export function createPresenceMetrics(registry: Registry, pendingDevices: () => number): PresenceMetrics {
  new Gauge({
    name: 'iot_ingest_presence_pending_devices',
    help: 'Devices with presence changes not yet written to the registry.',
    registers: [registry],
    collect() {
      this.set(pendingDevices());
    },
  });
  return {
    events: new Counter({ name: 'iot_ingest_presence_events_total', help: 'Connection events seen by presence (connect, disconnect).', labelNames: ['event'], registers: [registry] }),
    writes: new Counter({
      name: 'iot_ingest_presence_writes_total',
      help: 'Registry writes made by presence (coalesced), by result: ok, superseded (a later connection elsewhere), failed.',
      labelNames: ['result'],
      registers: [registry],
    }),
    flushes: new Counter({ name: 'iot_ingest_presence_flushes_total', help: 'Presence flushes that wrote at least one device.', registers: [registry] }),
  };
}
