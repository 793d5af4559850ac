// The commands component's own metrics (no per-device labels).
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

export interface CommandMetrics {
  readonly created: Counter;
  readonly sent: Counter;
  readonly transitions: Counter<'to'>;
  readonly responsesRefused: Counter<'reason'>;
  readonly foreignDropped: Counter;
  readonly tableWrites: Counter;
}

export function createCommandMetrics(registry: Registry, inflight: () => number): CommandMetrics {
  new Gauge({
    name: 'iot_ingest_commands_inflight',
    help: 'Commands sent to devices on this replica and not yet acknowledged (PUBACK).',
    registers: [registry],
    collect() {
      this.set(inflight());
    },
  });
  return {
    created: new Counter({ name: 'iot_ingest_commands_created_total', help: 'Commands created (HTTP, CLI or an application over MQTT).', registers: [registry] }),
    sent: new Counter({ name: 'iot_ingest_command_publishes_total', help: 'Command messages published to devices (QoS 1), resends after a reconnect included.', registers: [registry] }),
    transitions: new Counter({ name: 'iot_ingest_command_transitions_total', help: 'Command status changes written by this replica, by new status.', labelNames: ['to'], registers: [registry] }),
    responsesRefused: new Counter({
      name: 'iot_ingest_command_responses_refused_total',
      help: 'Device answers on devices/{id}/commands/response that changed nothing, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    foreignDropped: new Counter({
      name: 'iot_ingest_command_foreign_publishes_dropped_total',
      help: 'Messages on a command topic not issued through the commands table (never forwarded to the device).',
      registers: [registry],
    }),
    tableWrites: new Counter({ name: 'iot_ingest_command_table_writes_total', help: 'Writes to the commands table.', registers: [registry] }),
  };
}
