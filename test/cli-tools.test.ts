// The tool subcommands as a user runs them: table create/describe, query, dlq list/replay.
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomTableName, startDynalite } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { createDynamoClients } from '../src/storage/client.ts';
import { runCli, scanAll, startTestService } from './helpers/service.ts';

describe('tool subcommands', () => {
  let dynamo: DynamoServer;
  const table = randomTableName('tools');
  const dlqTable = `${table}-dlq`;
  let conn: string[];

  beforeAll(async () => {
    dynamo = await startDynalite();
    conn = ['--dynamodb-endpoint', dynamo.endpoint, '--table', table, '--dlq-table', dlqTable];
  });
  afterAll(async () => {
    await dynamo?.stop();
  });

  it('table create makes the four tables, describe shows them', async () => {
    const more = ['--commands-table', `${table}-cmd`, '--devices-table', `${table}-dev`];
    const created = await runCli(['table', 'create', ...conn, ...more]);
    expect(created.code).toBe(0);
    expect(created.stdout.trim().split('\n')).toEqual([`${table}: created`, `${dlqTable}: created`, `${table}-cmd: created`, `${table}-dev: created`]);
    const described = await runCli(['table', 'describe', ...conn, ...more]);
    expect(described.code).toBe(0);
    const rows = described.stdout.trim().split('\n').map((l) => JSON.parse(l) as { table: string; status: string });
    expect(rows).toEqual([
      expect.objectContaining({ table, status: 'ACTIVE' }),
      expect.objectContaining({ table: dlqTable, status: 'ACTIVE' }),
      expect.objectContaining({ table: `${table}-cmd`, status: 'ACTIVE' }),
      expect.objectContaining({ table: `${table}-dev`, status: 'ACTIVE' }),
    ]);
  });

  it('query prints a device\'s readings as JSON lines, newest first with --desc', async () => {
    const svc = await startTestService(dynamo.endpoint, { tableName: table, dlqTableName: dlqTable });
    const c = await connectAsync(svc.mqttUrl, { clientId: 'q-dev', reconnectPeriod: 0 });
    const base = Date.now() - 10_000;
    await c.publishAsync('devices/q-dev/telemetry', JSON.stringify([1, 2, 3].map((v) => ({ ts: base + v, v }))), { qos: 1 });
    await c.endAsync();
    await svc.stop();
    const r = await runCli(['query', 'q-dev', '--desc', '--limit', '2', ...conn]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { v: number }).v)).toEqual([3, 2]);
    const missing = await runCli(['query', ...conn]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing <deviceId>');
  });

  it('dlq list shows dead-lettered messages; dlq replay publishes them again once the cause is fixed', async () => {
    // A strict limit dead-letters a 3-attribute reading...
    const strict = await startTestService(dynamo.endpoint, { tableName: table, dlqTableName: dlqTable, maxAttributesPerReading: 2 });
    const c = await connectAsync(strict.mqttUrl, { clientId: 'dlq-dev', reconnectPeriod: 0 });
    const ts = Date.now() - 5_000;
    await c.publishAsync('devices/dlq-dev/telemetry', JSON.stringify({ ts, a: 1, b: 2, c: 3 }), { qos: 1 });
    await c.endAsync();
    await strict.stop();
    const listed = await runCli(['dlq', 'list', '--reason', 'too_many_attributes', ...conn]);
    expect(listed.code).toBe(0);
    const records = listed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { deviceId: string; payloadText: string });
    expect(records).toEqual([expect.objectContaining({ deviceId: 'dlq-dev', payloadText: JSON.stringify({ ts, a: 1, b: 2, c: 3 }) })]);

    // ...which replay, decoding with the default limit, stores (straight into the table).
    const replayed = await runCli(['dlq', 'replay', ...conn]);
    expect(replayed.code).toBe(0);
    expect(replayed.stdout).toMatch(/^stored +\S+ +dlq-dev +1 reading\(s\)$/m);
    expect(replayed.stdout).toContain('replayed: stored 1, rejected again 0, failed 0 (of 1)');
    const clients = createDynamoClients({ endpoint: dynamo.endpoint, region: 'us-east-1' });
    try {
      const stored = (await scanAll(clients.doc, table)).filter((i) => i.deviceId === 'dlq-dev');
      expect(stored).toEqual([expect.objectContaining({ ts, a: 1, b: 2, c: 3 })]);
      expect(await scanAll(clients.doc, dlqTable)).toEqual([]);
    } finally {
      clients.destroy();
    }
  });
});
