// The four tables the service uses (telemetry, dead-letter, commands, device registry), created or
// checked in one place: by `serve` at start-up, by the `--workers` primary once for all workers,
// and by `iot-ingest table create|describe`.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Logger } from 'pino';
import { COMMANDS_TTL_ATTRIBUTE, commandsTableSpec } from './commands/table.ts';
import { devicesTableSpec } from './identity/device-record.ts';
import { deadLetterTableSpec, ensureTable, telemetryTableSpec } from './storage/tables.ts';
import type { TableSpec } from './storage/tables.ts';

export interface ServiceTableNames {
  readonly tableName: string;
  readonly dlqTableName: string;
  readonly commandsTableName: string;
  readonly devicesTableName: string;
}

export interface ServiceTable {
  readonly spec: TableSpec;
  /** The attribute the table's TTL points at, if any. */
  readonly ttlAttribute: string | undefined;
}

/** Every table with its TTL attribute: readings and dead letters expire only with a retention period. */
export function serviceTables(names: ServiceTableNames, retentionDays: number | undefined): ServiceTable[] {
  const retention = retentionDays === undefined ? undefined : 'expiresAt';
  return [
    { spec: telemetryTableSpec(names.tableName), ttlAttribute: retention },
    { spec: deadLetterTableSpec(names.dlqTableName), ttlAttribute: retention },
    { spec: commandsTableSpec(names.commandsTableName), ttlAttribute: COMMANDS_TTL_ATTRIBUTE },
    { spec: devicesTableSpec(names.devicesTableName), ttlAttribute: undefined },
  ];
}

/** Creates the missing tables (or, with `create` false, checks that they exist), one after the other. */
export async function ensureServiceTables(
  client: DynamoDBClient,
  names: ServiceTableNames,
  options: { readonly create: boolean; readonly retentionDays: number | undefined; readonly log: Logger },
): Promise<void> {
  for (const { spec, ttlAttribute } of serviceTables(names, options.retentionDays)) {
    await ensureTable(client, spec, { create: options.create, ttlAttribute, log: options.log });
  }
}
