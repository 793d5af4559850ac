// The read API: each bad parameter is a 400 that names it (nothing logged for a client's mistake),
// and paging with the `next` cursor walks every stored reading exactly once.
import { Writable } from 'node:stream';
import { connectAsync } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveConfigSchema } from '../src/config/schema.ts';
import { startService } from '../src/service.ts';
import type { RunningService } from '../src/service.ts';
import { randomTableName, startDynalite } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';

const BEYOND_2_53 = '9007199254740993';

describe('read API', () => {
  let dynamo: DynamoServer;
  let service: RunningService;
  let httpUrl: string;
  const logLines: string[] = [];

  beforeAll(async () => {
    dynamo = await startDynalite();
    const config = serveConfigSchema.parse({
      mqttHost: '127.0.0.1',
      mqttPort: 0,
      httpHost: '127.0.0.1',
      httpPort: 0,
      dynamodbEndpoint: dynamo.endpoint,
      tableName: randomTableName('telemetry'),
      dlqTableName: randomTableName('dlq'),
    });
    const sink = new Writable({
      write(chunk: Buffer, _enc, done): void {
        logLines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
        done();
      },
    });
    service = await startService(config, { log: pino({ level: 'debug' }, sink) });
    httpUrl = `http://127.0.0.1:${service.httpPort}`;
  });
  afterAll(async () => {
    await service?.stop();
    await dynamo?.stop();
  });

  const cases: [string, string, string][] = [
    ['from beyond 2^53', `/devices/dev-1/readings?from=${BEYOND_2_53}`, 'from'],
    ['to beyond 2^53', `/devices/dev-1/readings?to=${BEYOND_2_53}`, 'to'],
    ['to of 20 digits', '/devices/dev-1/readings?to=99999999999999999999', 'to'],
    ['cursor beyond 2^53', `/devices/dev-1/readings?from=0&cursor=${BEYOND_2_53}`, 'cursor'],
    ['cursor not a number', '/devices/dev-1/readings?cursor=abc', 'cursor'],
    ['cursor outside [from, to]', '/devices/dev-1/readings?from=1000&to=2000&cursor=5000', 'cursor'],
    ['from after to', '/devices/dev-1/readings?from=2000&to=1000', 'from'],
    ['from not a time', '/devices/dev-1/readings?from=yesterday', 'from'],
    ['malformed percent-encoding in the device id', '/devices/dev%E0%A4%A/readings', 'deviceId'],
    ['a lone % in the device id', '/devices/dev%/readings', 'deviceId'],
    ['malformed percent-encoding in a parameter', '/devices/dev-1/readings?from=%ZZ', 'from'],
    ['an invalid device id', '/devices/bad%20device/readings', 'deviceId'],
    ['a device id of 129 chars', `/devices/${'d'.repeat(129)}/readings`, 'deviceId'],
    ['limit 0', '/devices/dev-1/readings?limit=0', 'limit'],
    ['limit 1001', '/devices/dev-1/readings?limit=1001', 'limit'],
    ['limit not an integer', '/devices/dev-1/readings?limit=2.5', 'limit'],
    ['order sideways', '/devices/dev-1/readings?order=sideways', 'order'],
    ['an unknown parameter', '/devices/dev-1/readings?form=0', 'form'],
    ['a parameter given twice', '/devices/dev-1/readings?limit=5&limit=6', 'limit'],
  ];

  it.each(cases)('%s: 400 naming the parameter', async (_label, path, parameter) => {
    const res = await fetch(`${httpUrl}${path}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; parameters: string[]; problems: string[] };
    expect(body.error).toBe('BAD_REQUEST');
    expect(body.parameters).toEqual([parameter]);
    expect(body.problems[0]?.startsWith(`${parameter}: `)).toBe(true);
  });

  it('logs nothing for the clients\' mistakes above (no stack trace)', () => {
    const http = logLines.filter((l) => l.includes('"component":"http"'));
    expect(http).toEqual([]);
    expect(logLines.some((l) => l.includes('"stack"'))).toBe(false);
  });

  it('accepts the largest exact time, 2^53 - 1, and ISO-8601', async () => {
    const res = await fetch(`${httpUrl}/devices/dev-1/readings?from=2024-01-01T00:00:00Z&to=${Number.MAX_SAFE_INTEGER}&cursor=${Number.MAX_SAFE_INTEGER}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { count: number }).count).toBe(0);
  });

  it('pages through 140 stored readings with the `next` cursor: exactly 140 distinct readings', async () => {
    const base = Date.now() - 3_600_000;
    const sent = Array.from({ length: 140 }, (_, i) => base + i * 7);
    const c = await connectAsync(`mqtt://127.0.0.1:${service.mqttPort}`, { clientId: 'pager', reconnectPeriod: 0 });
    for (let i = 0; i < sent.length; i += 35) {
      await c.publishAsync('devices/pager/telemetry', JSON.stringify(sent.slice(i, i + 35).map((ts) => ({ ts, v: ts - base }))), { qos: 1 });
    }
    await c.endAsync();

    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await fetch(`${httpUrl}/devices/pager/readings?from=${base}&limit=25${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: { ts: number }[]; next?: string };
      seen.push(...page.items.map((r) => r.ts));
      cursor = page.next;
      pages++;
    } while (cursor !== undefined && pages < 20); // bounded: an ignored cursor would never end
    expect(seen).toHaveLength(140);
    expect(new Set(seen).size).toBe(140);
    expect([...seen].sort((a, b) => a - b)).toEqual(sent);
    expect(pages).toBeLessThanOrEqual(7);
  });
});
