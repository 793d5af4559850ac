// `iot-ingest dlq` against real dead-letter records: replay --dry-run reports without changing
// anything; replay stores what now passes (and deletes those records), keeps what still fails under
// its own id with the new reason, and reports store failures; the counts printed match both tables;
// a second replay changes nothing. list filters and purge's confirmation.
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClients } from '../src/storage/client.ts';
import type { DynamoClients } from '../src/storage/client.ts';
import { randomTableName, startDynalite } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { runCli, scanAll, startTestService } from './helpers/service.ts';

interface DlqRecord {
  id: string;
  deviceId: string;
  reason: string;
  errorMessage: string;
}

describe('dlq list, replay and purge', () => {
  let dynamo: DynamoServer;
  let clients: DynamoClients;
  const table = randomTableName('replay');
  const dlqTable = `${table}-dlq`;
  let conn: string[];
  const ts = Date.now() - 60_000;
  let original: DlqRecord[];

  const dlq = async (): Promise<DlqRecord[]> => ((await scanAll(clients.doc, dlqTable)) as unknown as DlqRecord[]).sort((a, b) => a.id.localeCompare(b.id));
  const stored = async (): Promise<Record<string, unknown>[]> => scanAll(clients.doc, table);

  beforeAll(async () => {
    dynamo = await startDynalite();
    clients = createDynamoClients({ endpoint: dynamo.endpoint, region: 'us-east-1' });
    conn = ['--dynamodb-endpoint', dynamo.endpoint, '--table', table, '--dlq-table', dlqTable];
    // A strict service (2 attributes at most) dead-letters two good-but-wide readings and one that
    // is invalid whatever the limit (malformed JSON).
    const strict = await startTestService(dynamo.endpoint, { tableName: table, dlqTableName: dlqTable, maxAttributesPerReading: 2 });
    for (const [device, payload] of [
      ['wide-1', JSON.stringify({ ts, a: 1, b: 2, c: 3 })],
      ['wide-2', JSON.stringify([{ ts, a: 1, b: 2, c: 3 }, { ts: ts + 1, a: 4, b: 5, c: 6 }])],
      ['broken', '{"ts": 1, "a": '],
    ] as const) {
      const c = await connectAsync(strict.mqttUrl, { clientId: device, reconnectPeriod: 0 });
      await c.publishAsync(`devices/${device}/telemetry`, payload, { qos: 1 });
      await c.endAsync();
    }
    await strict.stop();
    original = await dlq();
  });
  afterAll(async () => {
    clients?.destroy();
    await dynamo?.stop();
  });

  it('list shows the records; --reason, --device and --since filter them', async () => {
    expect(original.map((r) => `${r.deviceId}:${r.reason}`).sort()).toEqual(['broken:malformed_json', 'wide-1:too_many_attributes', 'wide-2:too_many_attributes']);
    const lines = async (args: string[]): Promise<string[]> =>
      (await runCli(['dlq', 'list', ...args, ...conn])).stdout.trim().split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as DlqRecord).deviceId).sort();
    expect(await lines(['--reason', 'too_many_attributes'])).toEqual(['wide-1', 'wide-2']);
    expect(await lines(['--device', 'broken'])).toEqual(['broken']);
    expect(await lines(['--since', new Date(Date.now() + 60_000).toISOString()])).toEqual([]);
    expect(await lines(['--since', new Date(Date.now() - 600_000).toISOString(), '--reason', 'malformed_json'])).toEqual(['broken']);
  });

  it('replay --dry-run reports each record\'s outcome and changes neither table', async () => {
    const r = await runCli(['dlq', 'replay', '--dry-run', '--json', ...conn]);
    expect(r.code).toBe(0);
    const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { deviceId?: string; outcome?: string; reason?: string; summary?: unknown });
    expect(out.filter((o) => o.outcome).map((o) => `${o.deviceId}:${o.outcome}${o.reason ? `:${o.reason}` : ''}`).sort())
      .toEqual(['broken:rejected:malformed_json', 'wide-1:stored', 'wide-2:stored']);
    expect(out.at(-1)).toEqual({ summary: { stored: 2, rejected: 1, failed: 0, dryRun: true } });
    expect(await dlq()).toEqual(original);
    expect(await stored()).toEqual([]);
  });

  it('replay into a table that is missing fails those records and keeps them', async () => {
    const r = await runCli(['dlq', 'replay', ...conn.slice(0, 2), '--table', 'no_such_table', '--dlq-table', dlqTable]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('replayed: stored 0, rejected again 1, failed 2 (of 3)');
    expect(r.stdout).toMatch(/^failed +\S+ +wide-1 +ResourceNotFoundException/m);
    expect(await dlq()).toEqual(original);
  });

  it('replay stores what passes now, deletes only those records, keeps the rest under the same id; twice changes nothing', async () => {
    const r = await runCli(['dlq', 'replay', ...conn]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('replayed: stored 2, rejected again 1, failed 0 (of 3)');
    expect(r.stdout).toMatch(/^stored +\S+ +wide-2 +2 reading\(s\)$/m);
    expect(r.stdout).toMatch(/^rejected +\S+ +broken +malformed_json: /m);
    const items = (await stored()).map((i) => `${String(i.deviceId)}@${Number(i.ts) - ts}:${String(i.a)}${String(i.b)}${String(i.c)}`).sort();
    expect(items).toEqual(['wide-1@0:123', 'wide-2@0:123', 'wide-2@1:456']);
    const left = await dlq();
    expect(left).toEqual(original.filter((o) => o.deviceId === 'broken'));

    const again = await runCli(['dlq', 'replay', ...conn]);
    expect(again.stdout).toContain('replayed: stored 0, rejected again 1, failed 0 (of 1)');
    expect(await dlq()).toEqual(left);
    expect((await stored()).length).toBe(3);
  });

  it('purge needs --yes; with it, deletes only the matching records', async () => {
    const refused = await runCli(['dlq', 'purge', '--reason', 'malformed_json', ...conn]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^iot-ingest dlq: --yes: needed to delete 1 matching record\(s\)/);
    expect((await dlq()).length).toBe(1);
    const none = await runCli(['dlq', 'purge', '--device', 'someone-else', '--yes', ...conn]);
    expect(none.stdout).toContain('purged 0 record(s)');
    expect((await dlq()).length).toBe(1);
    const purged = await runCli(['dlq', 'purge', '--reason', 'malformed_json', '--yes', ...conn]);
    expect(purged.code).toBe(0);
    expect(purged.stdout).toContain('purged 1 record(s)');
    expect(await dlq()).toEqual([]);
  });
});
