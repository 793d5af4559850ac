// `iot-ingest table create|describe`: bootstrap or inspect the service's tables (telemetry,
// dead-letter, commands, device registry), the same ones `serve` creates at start-up.
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { SERVE_SETTINGS, serveConfigSchema } from '../config/schema.ts';
import { createLogger } from '../log.ts';
import { createDynamoClients } from '../storage/client.ts';
import { serviceTables } from '../service-tables.ts';
import { ensureTable } from '../storage/tables.ts';
import { defineCommand } from './command.ts';
import { CONNECTION_GROUP, CONNECTION_NOTE, CONNECTION_SETTINGS, connectionOf, connectionShape } from './connection.ts';
import { EXIT } from './exit-codes.ts';
import { withHints } from './explain.ts';

const TABLE_KEYS = ['retentionDays', 'commandsTableName', 'devicesTableName'];

export const tableCommand = defineCommand({
  name: 'table',
  usage: ['<create|describe> [options]'],
  description: 'Creates the service\'s tables (telemetry, dead-letter, commands, device registry), or shows them (one JSON object per table).',
  actions: [
    ['create', 'create the tables when missing (on-demand billing); TTL on expiresAt with --retention-days'],
    ['describe', 'print each table\'s status, key schema, item count and billing mode (MISSING when absent)'],
  ],
  settings: [...SERVE_SETTINGS.filter((s) => TABLE_KEYS.includes(s.key)), ...CONNECTION_SETTINGS],
  groups: CONNECTION_GROUP,
  json: true,
  schema: z.object({
    retentionDays: serveConfigSchema.shape.retentionDays,
    commandsTableName: serveConfigSchema.shape.commandsTableName,
    devicesTableName: serveConfigSchema.shape.devicesTableName,
    ...connectionShape,
  }),
  notes: CONNECTION_NOTE,
  async run({ config, args, io }) {
    const conn = connectionOf(config);
    const clients = createDynamoClients({ endpoint: conn.endpoint, region: conn.region }, io.env);
    const tables = serviceTables({ ...conn, commandsTableName: config.commandsTableName, devicesTableName: config.devicesTableName }, config.retentionDays);
    try {
      for (const { spec, ttlAttribute } of tables) {
        await withHints({ endpoint: conn.endpoint, region: conn.region, table: spec.name }, async () => {
          if (args[0] === 'create') {
            const log = createLogger('warn');
            const outcome = await ensureTable(clients.client, spec, { create: true, ttlAttribute, log });
            io.stdout.write(`${spec.name}: ${outcome}\n`);
            return;
          }
          try {
            const t = (await clients.client.send(new DescribeTableCommand({ TableName: spec.name }))).Table;
            io.stdout.write(`${JSON.stringify({ table: spec.name, status: t?.TableStatus, keySchema: t?.KeySchema, itemCount: t?.ItemCount, billing: t?.BillingModeSummary?.BillingMode ?? 'PAY_PER_REQUEST' })}\n`);
          } catch (err) {
            if ((err as Error).name !== 'ResourceNotFoundException') throw err;
            io.stdout.write(`${JSON.stringify({ table: spec.name, status: 'MISSING' })}\n`);
          }
        });
      }
    } finally {
      clients.destroy();
    }
    return EXIT.OK;
  },
});
