// Reading back more than one page: 140 readings through `iot-ingest query` (--all, --limit with the
// `next` cursor, --format) and through the HTTP read API's `next` cursor. Each check fails if the
// cursor is ignored (a repeated first page, or a loop that never ends).
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomTableName, startDynalite } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { runCli, startTestService } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

const COUNT = 140;

describe('query pagination: 140 readings', () => {
  let dynamo: DynamoServer;
  let svc: TestService;
  const table = randomTableName('pages');
  const base = Date.now() - 3_600_000;
  const expected = Array.from({ length: COUNT }, (_, i) => base + i * 1000);
  let conn: string[];

  beforeAll(async () => {
    dynamo = await startDynalite();
    svc = await startTestService(dynamo.endpoint, { tableName: table, dlqTableName: `${table}-dlq` });
    conn = ['--dynamodb-endpoint', dynamo.endpoint, '--table', table];
    const c = await connectAsync(svc.mqttUrl, { clientId: 'pager', reconnectPeriod: 0 });
    // Two messages of 70 readings, plus another device's readings that must never show up.
    for (const half of [expected.slice(0, 70), expected.slice(70)]) {
      await c.publishAsync('devices/pager/telemetry', JSON.stringify(half.map((ts, i) => ({ ts, n: i }))), { qos: 1 });
    }
    await c.endAsync();
    const other = await connectAsync(svc.mqttUrl, { clientId: 'pager-2', reconnectPeriod: 0 });
    await other.publishAsync('devices/pager-2/telemetry', JSON.stringify({ ts: base + 500, n: -1 }), { qos: 1 });
    await other.endAsync();
  });
  afterAll(async () => {
    await svc?.stop();
    await dynamo?.stop();
  });

  const tsOf = (stdout: string): number[] => stdout.trim().split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { ts: number }).ts);
  const from = ['--from', String(base - 1)];

  it('--all follows the pages (of --limit, default 100) and prints each reading exactly once, in order', async () => {
    const r = await runCli(['query', 'pager', '--all', ...from, ...conn]);
    expect(r.code).toBe(0);
    expect(tsOf(r.stdout)).toEqual(expected);
    expect(r.stderr).toBe('');
    const small = await runCli(['query', 'pager', '--all', '--limit', '30', ...from, ...conn]);
    expect(tsOf(small.stdout)).toEqual(expected);
  });

  it('--limit prints one page and the cursor on stderr; --cursor continues exactly after it', async () => {
    const first = await runCli(['query', 'pager', '--limit', '100', ...from, ...conn]);
    expect(first.code).toBe(0);
    expect(tsOf(first.stdout)).toEqual(expected.slice(0, 100));
    const cursor = /^next: (\d+) /m.exec(first.stderr)?.[1];
    expect(cursor).toBe(String(expected[99]));
    const second = await runCli(['query', 'pager', '--limit', '100', '--cursor', cursor as string, ...from, ...conn]);
    expect(tsOf(second.stdout)).toEqual(expected.slice(100));
    expect(second.stderr).not.toContain('next:');
  });

  it('--desc pages from the newest', async () => {
    const r = await runCli(['query', 'pager', '--all', '--desc', '--limit', '64', ...from, ...conn]);
    expect(tsOf(r.stdout)).toEqual([...expected].reverse());
  });

  it('--format json, csv and table carry the same 140 readings', async () => {
    const json = await runCli(['query', 'pager', '--all', '--format', 'json', ...from, ...conn]);
    expect((JSON.parse(json.stdout) as { ts: number }[]).map((i) => i.ts)).toEqual(expected);
    const csv = await runCli(['query', 'pager', '--all', '--format', 'csv', ...from, ...conn]);
    const lines = csv.stdout.trim().split('\n');
    expect(lines).toHaveLength(COUNT + 1);
    const header = (lines[0] as string).split(',');
    expect(header).toEqual(expect.arrayContaining(['deviceId', 'ts', 'n', 'receivedAt']));
    expect(lines.slice(1).map((l) => Number(l.split(',')[header.indexOf('ts')]))).toEqual(expected);
    const text = await runCli(['query', 'pager', '--all', '--format', 'table', ...from, ...conn]);
    expect(text.stdout.trim().split('\n')).toHaveLength(COUNT + 1);
    const bad = await runCli(['query', 'pager', '--format', 'xml', ...conn]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--format / QUERY_FORMAT: must be one of jsonl, json, csv, table');
  });

  it('the HTTP read API: following `next` returns the 140 readings exactly once', async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const url = `${svc.httpUrl}/devices/pager/readings?from=${base - 1}&limit=50${cursor ? `&cursor=${cursor}` : ''}`;
      const body = (await (await fetch(url)).json()) as { items: { ts: number }[]; next?: string };
      seen.push(...body.items.map((i) => i.ts));
      cursor = body.next;
      pages += 1;
    } while (cursor !== undefined && pages < 10);
    expect(seen).toEqual(expected);
    expect(pages).toBe(3);
  });
});
