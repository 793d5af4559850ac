// `iot-ingest query <deviceId>`: a device's readings in a time range, a page at a time (--limit,
// the `next` cursor on stderr, --cursor) or all of them (--all), as JSON lines, JSON, CSV or a table.
import { z } from 'zod';
import type { SettingSpec } from '../config/schema.ts';
import { bool, int } from '../config/schema.ts';
import { usageError } from '../config/load.ts';
import { parseTelemetryTopic, telemetryTopic } from '../broker/topic.ts';
import { createDynamoClients } from '../storage/client.ts';
import { queryReadings } from '../storage/readings-query.ts';
import { defineCommand } from './command.ts';
import { CONNECTION_GROUP, CONNECTION_NOTE, CONNECTION_SETTINGS, connectionOf, connectionShape, tableHints } from './connection.ts';
import { EXIT } from './exit-codes.ts';
import { withHints } from './explain.ts';
import { OUTPUT_FORMATS, rowWriter } from './output.ts';
import { timeSetting } from './time.ts';

const SETTINGS: SettingSpec[] = [
  { key: 'from', flag: 'from', env: 'QUERY_FROM', kind: 'string', value: 'TIME', help: 'Start: epoch milliseconds or ISO-8601 (default: 24 h ago).' },
  { key: 'to', flag: 'to', env: 'QUERY_TO', kind: 'string', value: 'TIME', help: 'End: epoch milliseconds or ISO-8601 (default: now + 1 h).' },
  { key: 'limit', flag: 'limit', env: 'QUERY_LIMIT', kind: 'string', value: 'N', help: 'Readings per page (at most 1000 per request); when more exist, the cursor of the rest goes to stderr.' },
  { key: 'all', flag: 'all', env: 'QUERY_ALL', kind: 'boolean', help: 'Follow the cursor page after page (of --limit readings): print every reading in the range.' },
  { key: 'cursor', flag: 'cursor', env: 'QUERY_CURSOR', kind: 'string', value: 'NEXT', help: 'Continue after a previous page (the "next" it printed on stderr).' },
  { key: 'desc', flag: 'desc', env: 'QUERY_DESC', kind: 'boolean', help: 'Newest first.' },
  { key: 'format', flag: 'format', env: 'QUERY_FORMAT', kind: 'string', value: 'FORMAT', help: 'jsonl (one reading per line), json (one array), csv or table.' },
  ...CONNECTION_SETTINGS,
];

/** Largest Limit of one Query request (the HTTP read API's bound too). */
const PAGE_SIZE = 1000;

export const queryCommand = defineCommand({
  name: 'query',
  usage: ['<deviceId> [options]'],
  description: 'Prints a device\'s readings, oldest first. A page holds --limit readings; when more are stored\n'
    + 'the cursor of the rest is printed on stderr as `next: <cursor>` (pass it to --cursor), or use --all.\n'
    + 'A device with no readings in the range prints nothing on stdout, says so on stderr and exits 0.',
  positionals: [['deviceId', 'the device: 1-128 characters of A-Z a-z 0-9 _ . : -']],
  settings: SETTINGS,
  groups: CONNECTION_GROUP,
  json: true,
  schema: z.object({
    from: timeSetting.optional(),
    to: timeSetting.optional(),
    limit: int(z.number().min(1).max(1_000_000)).default(100),
    all: bool.default(false),
    cursor: z.string().regex(/^\d{1,16}$/, 'must be the "next" value a previous query printed').optional(),
    desc: bool.default(false),
    format: z.enum(OUTPUT_FORMATS).default('jsonl'),
    ...connectionShape,
  }),
  notes: CONNECTION_NOTE,
  examples: [
    'iot-ingest query sensor-1 --from 2026-01-01T00:00:00Z --all --format csv > sensor-1.csv',
    'iot-ingest query sensor-1 --limit 10 --desc            # the ten newest',
    'iot-ingest query sensor-1 --limit 100 --cursor 1732480000123   # the page after a previous one',
  ],
  async run({ config, args, json, io }) {
    const deviceId = args[0] as string;
    if (parseTelemetryTopic(telemetryTopic(deviceId)) !== deviceId) {
      throw usageError([`<deviceId> "${deviceId}": must be 1-128 characters of A-Z a-z 0-9 _ . : -`]);
    }
    const conn = connectionOf(config);
    const now = Date.now();
    const fromMs = config.from ?? now - 86_400_000;
    const toMs = config.to ?? now + 3_600_000;
    const out = rowWriter(io.stdout, json ? 'jsonl' : config.format);
    const clients = createDynamoClients({ endpoint: conn.endpoint, region: conn.region }, io.env);
    let printed = 0;
    let cursor = config.cursor;
    try {
      await withHints(tableHints(conn, 'telemetry'), async () => {
        do {
          const want = Math.min(config.all ? config.limit : config.limit - printed, PAGE_SIZE);
          const page = await queryReadings(clients.doc, conn.tableName, { deviceId, fromMs, toMs, limit: want, newestFirst: config.desc, cursor });
          for (const item of page.items) out.write(item);
          printed += page.items.length;
          cursor = page.next;
        } while (cursor !== undefined && (config.all || printed < config.limit));
      });
    } finally {
      clients.destroy();
    }
    out.end();
    if (printed === 0 && config.cursor === undefined) {
      io.stderr.write(`iot-ingest query: no readings for device "${deviceId}" in ${new Date(fromMs).toISOString()} .. ${new Date(toMs).toISOString()} (check the id, --from/--to, --table)\n`);
    } else if (cursor !== undefined) {
      io.stderr.write(`next: ${cursor} (more readings: add --cursor ${cursor}, or --all)\n`);
    }
    return EXIT.OK;
  },
});
