// `iot-ingest query <deviceId>`: a device's readings in a time range, as JSON lines.
import { CliError } from '../errors.ts';
import { z } from 'zod';
import { createDynamoClients } from '../storage/client.ts';
import { parseTime, queryReadings } from '../storage/readings-query.ts';
import type { SettingSpec } from '../config/schema.ts';
import { commandSettingsHelp, parseCommand } from './connection.ts';
import { bool, int } from '../config/schema.ts';

const SETTINGS: SettingSpec[] = [
  { key: 'from', flag: 'from', env: 'QUERY_FROM', kind: 'string', help: 'Start, epoch ms or ISO-8601 (default: 24 h ago).' },
  { key: 'to', flag: 'to', env: 'QUERY_TO', kind: 'string', help: 'End, epoch ms or ISO-8601 (default: now + 1 h).' },
  { key: 'limit', flag: 'limit', env: 'QUERY_LIMIT', kind: 'string', help: 'Most readings to print (default 100).' },
  { key: 'desc', flag: 'desc', env: 'QUERY_DESC', kind: 'boolean', help: 'Newest first.' },
];

export async function runQuery(argv: string[], io: { stdout: NodeJS.WritableStream; env: NodeJS.ProcessEnv }): Promise<number> {
  const time = z.string().refine((v) => parseTime(v) !== undefined, 'epoch milliseconds or ISO-8601').transform((v) => parseTime(v) as number);
  const parsed = parseCommand(argv, io.env, SETTINGS, {
    from: time.optional(),
    to: time.optional(),
    limit: int(z.number().min(1).max(1_000_000)).default(100),
    desc: bool.default(false),
  });
  if (parsed.help) {
    io.stdout.write(`Usage: iot-ingest query <deviceId> [options]\n\nPrints the device's readings as JSON lines.\n\n${commandSettingsHelp(SETTINGS)}\n`);
    return 0;
  }
  const deviceId = parsed.positionals[0];
  if (!deviceId) throw new CliError('CONFIG_INVALID', 'missing <deviceId> (see --help)');
  const { conn, options } = parsed;
  const now = Date.now();
  const clients = createDynamoClients({ endpoint: conn.endpoint, region: conn.region }, io.env);
  try {
    let cursor: string | undefined;
    let left = options.limit;
    do {
      const page = await queryReadings(clients.doc, conn.tableName, {
        deviceId,
        fromMs: options.from ?? now - 86_400_000,
        toMs: options.to ?? now + 3_600_000,
        limit: Math.min(left, 1000),
        newestFirst: options.desc,
        cursor,
      });
      for (const item of page.items) io.stdout.write(`${JSON.stringify(item)}\n`);
      left -= page.items.length;
      cursor = page.next;
    } while (cursor !== undefined && left > 0);
  } finally {
    clients.destroy();
  }
  return 0;
}
