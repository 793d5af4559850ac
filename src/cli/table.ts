// `iot-ingest table create|describe`: bootstrap or inspect the telemetry and dead-letter tables.
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { CliError } from '../errors.ts';
import { createLogger } from '../log.ts';
import type { SettingSpec } from '../config/schema.ts';
import { SERVE_SETTINGS, int } from '../config/schema.ts';
import { createDynamoClients } from '../storage/client.ts';
import { deadLetterTableSpec, ensureTable, telemetryTableSpec } from '../storage/tables.ts';
import { commandSettingsHelp, parseCommand } from './connection.ts';

const SETTINGS: SettingSpec[] = SERVE_SETTINGS.filter((s) => s.key === 'retentionDays');

export async function runTable(argv: string[], io: { stdout: NodeJS.WritableStream; env: NodeJS.ProcessEnv }): Promise<number> {
  const parsed = parseCommand(argv, io.env, SETTINGS, { retentionDays: int(z.number().positive()).optional() });
  const action = parsed.positionals[0];
  if (parsed.help || action === undefined) {
    io.stdout.write(`Usage: iot-ingest table <create|describe> [options]\n\n  create     create the telemetry and dead-letter tables when missing (on-demand), TTL on expiresAt with --retention-days\n  describe   print both tables' status, key schema, item count and TTL\n\n${commandSettingsHelp(SETTINGS)}\n`);
    return parsed.help ? 0 : 2;
  }
  const { conn, options } = parsed;
  const clients = createDynamoClients({ endpoint: conn.endpoint, region: conn.region }, io.env);
  try {
    const specs = [telemetryTableSpec(conn.tableName), deadLetterTableSpec(conn.dlqTableName)];
    if (action === 'create') {
      const log = createLogger('warn');
      for (const spec of specs) {
        const outcome = await ensureTable(clients.client, spec, { create: true, ttlAttribute: options.retentionDays ? 'expiresAt' : undefined, log });
        io.stdout.write(`${spec.name}: ${outcome}\n`);
      }
      return 0;
    }
    if (action === 'describe') {
      for (const spec of specs) {
        try {
          const t = (await clients.client.send(new DescribeTableCommand({ TableName: spec.name }))).Table;
          io.stdout.write(`${JSON.stringify({ table: spec.name, status: t?.TableStatus, keySchema: t?.KeySchema, itemCount: t?.ItemCount, billing: t?.BillingModeSummary?.BillingMode ?? 'PAY_PER_REQUEST' })}\n`);
        } catch (err) {
          if ((err as Error).name !== 'ResourceNotFoundException') throw err;
          io.stdout.write(`${JSON.stringify({ table: spec.name, status: 'MISSING' })}\n`);
        }
      }
      return 0;
    }
    throw new CliError('CONFIG_INVALID', `unknown action "${action}": use create or describe`);
  } finally {
    clients.destroy();
  }
}
