// The sink seam: the same broker and batcher, a different ReadingSink (a JSON-lines file), chosen
// only where the service is wired. Devices over real MQTT get their PUBACKs once the lines are on
// disk; every acknowledged reading is in the file exactly once per message.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveConfigSchema } from '../src/config/schema.ts';
import { startService } from '../src/service.ts';
import type { RunningService } from '../src/service.ts';
import { FileSink } from '../src/storage/file-sink.ts';
import { randomTableName, startDynalite } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';

describe('a second ReadingSink behind the same broker and batcher', () => {
  let dynamo: DynamoServer;
  let service: RunningService;
  let dir: string;
  let path: string;

  beforeAll(async () => {
    // DynamoDB still holds the dead-letter table; telemetry goes to the file.
    dynamo = await startDynalite();
    dir = await mkdtemp(join(tmpdir(), 'iot-sink-'));
    path = join(dir, 'readings.jsonl');
    const config = serveConfigSchema.parse({
      mqttHost: '127.0.0.1', mqttPort: 0, httpHost: '127.0.0.1', httpPort: 0, dynamodbEndpoint: dynamo.endpoint,
      tableName: randomTableName('t'), dlqTableName: randomTableName('dlq'), logLevel: 'silent',
    });
    service = await startService(config, { log: pino({ level: 'silent' }), sink: new FileSink(path) });
  });
  afterAll(async () => {
    await service?.stop();
    await dynamo?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('stores every acknowledged reading in the file, once', async () => {
    const devices: MqttClient[] = await Promise.all([0, 1, 2].map((i) => connectAsync(`mqtt://127.0.0.1:${service.mqttPort}`, { clientId: `file-${i}`, reconnectPeriod: 0 })));
    const ts = Date.now() - 60_000;
    try {
      await Promise.all(devices.flatMap((c, d) => Array.from({ length: 40 }, (_, n) => c.publishAsync(`devices/file-${d}/telemetry`, JSON.stringify({ ts: ts + n, n, nested: { big: 1e16 } }), { qos: 1 }))));
    } finally {
      await Promise.all(devices.map((c) => c.endAsync()));
    }
    const lines = (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { deviceId: string; ts: number; n: number; nested: { big: number } });
    expect(lines).toHaveLength(120);
    expect(new Set(lines.map((l) => `${l.deviceId}/${l.ts}`)).size).toBe(120);
    for (const l of lines) expect(l).toMatchObject({ ts: ts + l.n, nested: { big: 1e16 } });
    const stored = await service.metrics.readingsStoredTotal.get();
    expect(stored.values[0]?.value).toBe(120);
  });
});
