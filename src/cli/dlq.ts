// `iot-ingest dlq list|replay`: inspect dead-lettered messages, or publish them again through the
// broker (after a fix, e.g. a raised limit). A replayed record is deleted once its PUBACK came
// back; a message that is still invalid is dead-lettered anew by the service.
import { DeleteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { z } from 'zod';
import { CliError } from '../errors.ts';
import type { SettingSpec } from '../config/schema.ts';
import type { DeadLetterRecord } from '../ingest/dead-letter.ts';
import { createDynamoClients } from '../storage/client.ts';
import { commandSettingsHelp, parseCommand } from './connection.ts';
import { int } from '../config/schema.ts';

const SETTINGS: SettingSpec[] = [
  { key: 'reason', flag: 'reason', env: 'DLQ_REASON', kind: 'string', help: 'Only records with this reason.' },
  { key: 'device', flag: 'device', env: 'DLQ_DEVICE', kind: 'string', help: 'Only records of this device.' },
  { key: 'limit', flag: 'limit', env: 'DLQ_LIMIT', kind: 'string', help: 'Most records to list or replay (default 100).' },
  { key: 'url', flag: 'url', env: 'MQTT_URL', kind: 'string', help: 'Broker to replay into (default mqtt://127.0.0.1:1883).' },
];

export async function runDlq(argv: string[], io: { stdout: NodeJS.WritableStream; env: NodeJS.ProcessEnv }): Promise<number> {
  const parsed = parseCommand(argv, io.env, SETTINGS, {
    reason: z.string().optional(),
    device: z.string().optional(),
    limit: int(z.number().min(1)).default(100),
    url: z.string().regex(/^(mqtts?|wss?):\/\//, 'an mqtt://, mqtts://, ws:// or wss:// URL').default('mqtt://127.0.0.1:1883'),
  });
  const action = parsed.positionals[0];
  if (parsed.help || action === undefined) {
    io.stdout.write(`Usage: iot-ingest dlq <list|replay> [options]\n\n  list     print dead-lettered records as JSON lines (payload decoded when it is text)\n  replay   publish each record's original payload again to its topic (QoS 1), delete it once acknowledged\n\n${commandSettingsHelp(SETTINGS)}\n`);
    return parsed.help ? 0 : 2;
  }
  if (action !== 'list' && action !== 'replay') throw new CliError('CONFIG_INVALID', `unknown action "${action}": use list or replay`);
  const { conn, options } = parsed;
  const clients = createDynamoClients({ endpoint: conn.endpoint, region: conn.region }, io.env);
  try {
    const records: DeadLetterRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await clients.doc.send(new ScanCommand({ TableName: conn.dlqTableName, ExclusiveStartKey: start }));
      for (const item of (page.Items ?? []) as DeadLetterRecord[]) {
        if (options.reason && item.reason !== options.reason) continue;
        if (options.device && item.deviceId !== options.device) continue;
        records.push(item);
      }
      start = page.LastEvaluatedKey;
    } while (start && records.length < options.limit);
    records.sort((a, b) => a.id.localeCompare(b.id));
    const chosen = records.slice(0, options.limit);
    if (action === 'list') {
      for (const r of chosen) {
        const payload = Buffer.from(r.base64OriginalPayload, 'base64');
        const text = payload.length <= 4096 && !payload.includes(0) ? payload.toString('utf8') : undefined;
        io.stdout.write(`${JSON.stringify({ ...r, payloadText: text })}\n`);
      }
      return 0;
    }
    // A device may publish only as itself, so each record is replayed under its device's client id
    // (works with --auth none; with password auth the devices' secrets would be needed).
    const connections = new Map<string, MqttClient>();
    const connectionFor = async (deviceId: string): Promise<MqttClient> => {
      let client = connections.get(deviceId);
      if (!client) {
        client = await connectAsync(options.url, { clientId: deviceId, clean: true, reconnectPeriod: 0 });
        connections.set(deviceId, client);
      }
      return client;
    };
    let replayed = 0;
    try {
      for (const r of chosen) {
        const client = await connectionFor(r.deviceId);
        await client.publishAsync(r.topic, Buffer.from(r.base64OriginalPayload, 'base64'), { qos: 1 });
        await clients.doc.send(new DeleteCommand({ TableName: conn.dlqTableName, Key: { id: r.id } }));
        replayed++;
      }
    } finally {
      await Promise.all([...connections.values()].map((c) => c.endAsync()));
      io.stdout.write(`replayed ${replayed} of ${chosen.length} record(s) into ${options.url}\n`);
    }
    return replayed === chosen.length ? 0 : 1;
  } finally {
    clients.destroy();
  }
}
