// `iot-ingest dlq list|replay|purge`: inspect dead-lettered messages, store them after a fix (a
// raised limit, a fixed table), or delete them. Replay decodes each record again with this
// command's limits (the same settings and env vars as `serve`) and writes straight to the table;
// see dlq-replay.ts for what happens to each record.
import { z } from 'zod';
import { usageError } from '../config/load.ts';
import type { SettingSpec } from '../config/schema.ts';
import { SERVE_SETTINGS, bool, int, serveConfigSchema } from '../config/schema.ts';
import { DEAD_LETTER_REASONS } from '../ingest/reading.ts';
import { createDynamoClients } from '../storage/client.ts';
import { defineCommand } from './command.ts';
import { CONNECTION_GROUP, CONNECTION_NOTE, CONNECTION_SETTINGS, connectionOf, connectionShape, tableHints } from './connection.ts';
import { deleteRecord, payloadText, scanRecords } from './dlq-records.ts';
import { replayRecord } from './dlq-replay.ts';
import type { ReplayOutcome } from './dlq-replay.ts';
import { EXIT } from './exit-codes.ts';
import { withHints } from './explain.ts';
import { timeSetting } from './time.ts';

const LIMIT_KEYS = ['maxPayloadBytes', 'maxReadingsPerMessage', 'maxAttributesPerReading', 'maxDepth', 'maxFutureSkewMs', 'maxItemBytes', 'retentionDays'];
const SETTINGS: SettingSpec[] = [
  { key: 'reason', flag: 'reason', env: 'DLQ_REASON', kind: 'string', value: 'REASON', help: `Only records with this reason (${DEAD_LETTER_REASONS.join(', ')}).` },
  { key: 'device', flag: 'device', env: 'DLQ_DEVICE', kind: 'string', value: 'ID', help: 'Only records of this device.' },
  { key: 'since', flag: 'since', env: 'DLQ_SINCE', kind: 'string', value: 'TIME', help: 'Only records received at or after this time (epoch ms or ISO-8601).' },
  { key: 'limit', flag: 'limit', env: 'DLQ_LIMIT', kind: 'string', value: 'N', help: 'Most records to list, replay or purge, oldest first.' },
  { key: 'dryRun', flag: 'dry-run', env: 'DLQ_DRY_RUN', kind: 'boolean', help: 'replay: decode and report each record\'s outcome; write and delete nothing.' },
  { key: 'yes', flag: 'yes', env: 'DLQ_YES', kind: 'boolean', help: 'purge: really delete (without it purge only counts).' },
  ...SERVE_SETTINGS.filter((s) => LIMIT_KEYS.includes(s.key)),
  ...CONNECTION_SETTINGS,
];

const shape = serveConfigSchema.shape;
const schema = z.object({
  reason: z.enum(DEAD_LETTER_REASONS).optional(),
  device: z.string().min(1).optional(),
  since: timeSetting.optional(),
  limit: int(z.number().min(1)).default(1000),
  dryRun: bool.default(false),
  yes: bool.default(false),
  maxPayloadBytes: shape.maxPayloadBytes,
  maxReadingsPerMessage: shape.maxReadingsPerMessage,
  maxAttributesPerReading: shape.maxAttributesPerReading,
  maxDepth: shape.maxDepth,
  maxFutureSkewMs: shape.maxFutureSkewMs,
  maxItemBytes: shape.maxItemBytes,
  retentionDays: shape.retentionDays,
  ...connectionShape,
});

function outcomeLine(o: ReplayOutcome): string {
  if (o.outcome === 'stored') return `stored    ${o.id}  ${o.deviceId}  ${o.readings} reading(s)`;
  if (o.outcome === 'rejected') return `rejected  ${o.id}  ${o.deviceId}  ${o.reason}: ${o.message}`;
  return `failed    ${o.id}  ${o.deviceId}  ${o.message}`;
}

export const dlqCommand = defineCommand({
  name: 'dlq',
  usage: ['<list|replay|purge> [options]'],
  description: 'Dead-lettered messages: invalid payloads and readings DynamoDB refused, each with its reason.',
  actions: [
    ['list', 'print matching records as JSON lines (payloadText: the payload when it is short text)'],
    ['replay', 'decode each matching record again with the limits below and store its readings; prints one line per '
      + 'record: stored (record deleted), rejected (still invalid: the record stays with the new reason) or failed '
      + '(store error: the record stays); then a summary. Exit 1 when any record was not stored'],
    ['purge', 'delete matching records; needs --yes (without it, only counts them)'],
  ],
  settings: SETTINGS,
  groups: { 'Limits used by replay (as for serve)': LIMIT_KEYS, ...CONNECTION_GROUP },
  json: true,
  schema,
  notes: CONNECTION_NOTE,
  examples: [
    'iot-ingest dlq list --reason too_many_attributes --since 2026-01-01T00:00:00Z',
    'iot-ingest dlq replay --max-attributes 200 --dry-run     # what a raised limit would store',
    'iot-ingest dlq purge --device sensor-7 --yes',
  ],
  async run({ config, args, json, io }) {
    const conn = connectionOf(config);
    const filter = { reason: config.reason, device: config.device, sinceMs: config.since };
    const clients = createDynamoClients({ endpoint: conn.endpoint, region: conn.region }, io.env);
    try {
      const records = await withHints(tableHints(conn, 'dlq'), () => scanRecords(clients.doc, conn.dlqTableName, filter, config.limit));
      if (args[0] === 'list') {
        for (const r of records) io.stdout.write(`${JSON.stringify({ ...r, payloadText: payloadText(r) })}\n`);
        return EXIT.OK;
      }
      if (args[0] === 'purge') {
        if (!config.yes) throw usageError([`--yes: needed to delete ${records.length} matching record(s) from ${conn.dlqTableName}`]);
        await withHints(tableHints(conn, 'dlq'), async () => {
          for (const r of records) await deleteRecord(clients.doc, conn.dlqTableName, r.id);
        });
        io.stdout.write(json ? `${JSON.stringify({ purged: records.length })}\n` : `purged ${records.length} record(s) from ${conn.dlqTableName}\n`);
        return EXIT.OK;
      }
      const counts = { stored: 0, rejected: 0, failed: 0 };
      const options = { doc: clients.doc, tableName: conn.tableName, dlqTableName: conn.dlqTableName, limits: config, retentionDays: config.retentionDays, dryRun: config.dryRun };
      for (const r of records) {
        const outcome = await withHints(tableHints(conn, 'telemetry'), () => replayRecord(r, options));
        counts[outcome.outcome]++;
        io.stdout.write(json ? `${JSON.stringify(outcome)}\n` : `${outcomeLine(outcome)}\n`);
      }
      const summary = { ...counts, dryRun: config.dryRun };
      io.stdout.write(json ? `${JSON.stringify({ summary })}\n`
        : `${config.dryRun ? 'dry run: would store' : 'replayed: stored'} ${counts.stored}, rejected again ${counts.rejected}, failed ${counts.failed} (of ${records.length})\n`);
      return counts.stored === records.length || config.dryRun ? EXIT.OK : EXIT.FAILURE;
    } finally {
      clients.destroy();
    }
  },
});
