// Validation and storage agree on every value. (1) The hand wire encoder equals the SDK's own
// marshalling over generated readings. (2) Generated payload texts, decoded and written through the
// DynamoDB sink to a real server (dynalite), read back exactly; what decoding refuses is refused
// with a reason of its own, and only for numbers a double cannot hold or DynamoDB cannot store.
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTelemetry } from '../src/ingest/decode.ts';
import type { DecodeLimits } from '../src/ingest/decode.ts';
import { isExact } from '../src/ingest/exact-numbers.ts';
import type { AttributeValue, Reading } from '../src/ingest/reading.ts';
import { createMetrics } from '../src/metrics/registry.ts';
import { createDynamoClients } from '../src/storage/client.ts';
import type { DynamoClients } from '../src/storage/client.ts';
import { createHttpTransport } from '../src/storage/dynamodb/http-transport.ts';
import { DynamoDbSink } from '../src/storage/dynamodb/sink.ts';
import { encodeItem } from '../src/storage/dynamodb/wire.ts';
import { toItem } from '../src/storage/item.ts';
import { ensureTable, telemetryTableSpec } from '../src/storage/tables.ts';
import { mulberry32 } from '../simulator/prng.ts';
import type { Random } from '../simulator/prng.ts';
import { randomTableName, startDynalite } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';

const LIMITS: DecodeLimits = { maxPayloadBytes: 1 << 20, maxReadingsPerMessage: 500, maxAttributesPerReading: 100, maxDepth: 8, maxFutureSkewMs: 300_000, maxItemBytes: 400_000 };
const T0 = 1_732_480_000_000;

/** Number literals as devices send them: small, large, exact and not, in every notation. */
function numberLiteral(rand: Random): string {
  const pick = Math.floor(rand() * 12);
  const digits = (n: number): string => Array.from({ length: n }, (_, i) => String(Math.floor(rand() * 10) || (i === 0 ? 1 : 0))).join('');
  const sign = rand() < 0.3 ? '-' : '';
  switch (pick) {
    case 0: return sign + String(Math.floor(rand() * 1000));
    case 1: return sign + (rand() * 1e6).toFixed(Math.floor(rand() * 6));
    case 2: return sign + digits(1 + Math.floor(rand() * 22)); // up to 22 digits: beyond 2^53 sometimes exact, mostly not
    case 3: return `${sign}${digits(1)}.${digits(1 + Math.floor(rand() * 20))}`;
    case 4: return `${sign}${digits(1 + Math.floor(rand() * 3))}e${Math.floor(rand() * 140)}`;
    case 5: return `${sign}${digits(1 + Math.floor(rand() * 3))}e-${Math.floor(rand() * 450)}`;
    case 6: return sign + String(rand() * 10 ** Math.floor(rand() * 30 - 15));
    case 7: return sign + '0';
    case 8: return '1e16';
    case 9: return '1e-400';
    case 10: return '9007199254740993';
    default: return sign + String(2 ** Math.floor(rand() * 70));
  }
}

function stringValue(rand: Random): string {
  const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '\n', '\t', 'é', '中', '😀', '\u0001', '/', 'e', '1'];
  const n = Math.floor(rand() * 8);
  return Array.from({ length: n }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
}

/** A JSON value text (numbers written as literals, not through JSON.stringify). */
function valueText(rand: Random, depth: number): string {
  const kind = Math.floor(rand() * (depth >= 3 ? 5 : 7));
  switch (kind) {
    case 0: return numberLiteral(rand);
    case 1: return JSON.stringify(stringValue(rand));
    case 2: return rand() < 0.5 ? 'true' : 'false';
    case 3: return 'null';
    case 4: return numberLiteral(rand);
    case 5: return `[${Array.from({ length: Math.floor(rand() * 4) }, () => valueText(rand, depth + 1)).join(',')}]`;
    default: return `{${Array.from({ length: Math.floor(rand() * 4) }, (_, i) => `"k${i}${stringValue(rand).replace(/[^a-z0-9]/gi, '')}":${valueText(rand, depth + 1)}`).join(',')}}`;
  }
}

function payloadText(rand: Random, ts: number): string {
  const n = 1 + Math.floor(rand() * 5);
  return `{"ts":${ts},${Array.from({ length: n }, (_, i) => `"a${i}":${valueText(rand, 0)}`).join(',')}}`;
}

/** Every number literal of a JSON text, strings skipped. */
function literals(text: string): string[] {
  return text.replace(/"(?:[^"\\]|\\.)*"/g, '""').match(/-?\d[\d.eE+-]*/g) ?? [];
}

describe('wire encoding', () => {
  it('property: equals the SDK marshalling of the same item over generated readings', () => {
    const rand = mulberry32(7);
    let compared = 0;
    for (let i = 0; i < 2_000; i++) {
      const decoded = decodeTelemetry(Buffer.from(payloadText(rand, T0 + i)), `dev-${i % 7}`, T0 + i + 5, LIMITS);
      if (!decoded.ok) continue;
      for (const reading of decoded.readings) {
        for (const retention of [undefined, 30]) {
          const sdk = marshall(toItem(reading, retention), { allowImpreciseNumbers: true });
          expect(JSON.parse(encodeItem(reading, retention)), `reading ${i}`).toEqual(JSON.parse(JSON.stringify(sdk)));
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(1_000);
  });

  it('writes every number as String does (the N text), over generated numbers of every kind', () => {
    const rand = mulberry32(11);
    const numbers: number[] = [0, -0, 1, -1, 1e-6, 9.99e-7, 1e-7, 0.1, 0.3, 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 53, 2 ** 53 + 2, 1e15, 1e15 + 0.5, 999999999999999.9, 123456789012345.6, 1e21, 1e125, 1.5e-129, 21.47, 40.12, 21.5, -67, 1732480000123];
    for (let i = 0; i < 60_000; i++) {
      const kind = i % 6;
      const sign = rand() < 0.3 ? -1 : 1;
      let n: number;
      if (kind === 0) n = Number(`${Math.floor(rand() * 10 ** Math.floor(rand() * 8))}.${String(Math.floor(rand() * 10 ** Math.floor(1 + rand() * 8))).padStart(Math.floor(rand() * 9), '0')}`); // decimals as devices send them
      else if (kind === 1) n = rand() * 10 ** Math.floor(rand() * 40 - 20); // any double, 16-17 digits
      else if (kind === 2) n = Math.round(rand() * 10 ** Math.floor(rand() * 17)) / 10 ** Math.floor(rand() * 16); // up to 16 digits, some inexact
      else if (kind === 3) n = Number((rand() * 1000).toFixed(Math.floor(rand() * 15)));
      else if (kind === 4) n = Math.floor(rand() * 2 ** 53) / 2 ** Math.floor(rand() * 60); // binary fractions
      else n = Number(`${Math.floor(rand() * 1e6)}e${Math.floor(rand() * 40) - 25}`);
      numbers.push(sign * n);
    }
    const wrong: string[] = [];
    for (const n of numbers) {
      const reading: Reading = { deviceId: 'd', ts: T0, receivedAt: T0, sizeBytes: 1, attributes: { v: n } };
      const text = (JSON.parse(encodeItem(reading, undefined)) as { v: { N: string } }).v.N;
      if (text !== String(n)) wrong.push(`${String(n)} written ${text}`);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(numbers.length).toBe(60_025);
  });

  it('empty values, nested maps and lists encode as the SDK does', () => {
    const reading: Reading = { deviceId: 'd', ts: T0, receivedAt: T0 + 1, sizeBytes: 1, attributes: { s: '', l: [], m: {}, n: null, b: false, deep: { a: [{ b: [true, null, 'x', 1.5, { c: {} }] }] } } as Record<string, AttributeValue> };
    expect(JSON.parse(encodeItem(reading, undefined))).toEqual(JSON.parse(JSON.stringify(marshall(toItem(reading, undefined)))));
  });
});

describe('decode and store agree, against dynalite', () => {
  let dynamo: DynamoServer;
  let clients: DynamoClients;
  const table = randomTableName('agree');

  beforeAll(async () => {
    dynamo = await startDynalite();
    clients = createDynamoClients({ endpoint: dynamo.endpoint, region: 'us-east-1' });
    await ensureTable(clients.client, telemetryTableSpec(table), { create: true, log: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    clients?.destroy();
    await dynamo?.stop();
  });

  it('property: every value decoding accepts is stored exactly; every refusal names an inexact or out-of-range number', async () => {
    const sink = new DynamoDbSink(await createHttpTransport({ endpoint: dynamo.endpoint, region: 'us-east-1' }, table), createMetrics({ defaultMetrics: false }), { retentionDays: undefined, writeTimeoutMs: 10_000 });
    const rand = mulberry32(11);
    const accepted: { reading: Reading; text: string }[] = [];
    let refused = 0;
    for (let i = 0; i < 300; i++) {
      const text = payloadText(rand, T0 + i);
      const decoded = decodeTelemetry(Buffer.from(text), 'agree', T0 + i + 5, LIMITS);
      if (decoded.ok) {
        accepted.push({ reading: decoded.readings[0] as Reading, text });
        continue;
      }
      refused++;
      expect(['inexact_number', 'invalid_value'], `${text}: ${decoded.message}`).toContain(decoded.reason);
      // Refused only when some literal really cannot be kept: inexact, or outside DynamoDB's range.
      const bad = literals(text).filter((l) => !isExact(l) || (Number(l) !== 0 && (Math.abs(Number(l)) >= 1e126 || Math.abs(Number(l)) < 1e-130)));
      expect(bad.length, text).toBeGreaterThan(0);
    }
    expect(refused).toBeGreaterThan(10);
    expect(accepted.length).toBeGreaterThan(100);
    for (let i = 0; i < accepted.length; i += 25) {
      const batch = accepted.slice(i, i + 25).map((a) => a.reading);
      const result = await sink.write(batch);
      expect(result.rejected).toEqual([]);
      expect(result.failed).toEqual([]);
      expect(result.stored).toHaveLength(batch.length);
    }
    for (const { reading, text } of accepted) {
      const got = await clients.client.send(new GetItemCommand({ TableName: table, Key: { deviceId: { S: reading.deviceId }, ts: { N: String(reading.ts) } } }));
      // Compared on the wire: every N string the server keeps has the decimal value the device sent.
      expect(got.Item, text).toBeDefined();
      const stored = got.Item as Record<string, unknown>;
      const sent = JSON.parse(encodeItem(reading, undefined)) as Record<string, unknown>;
      expect(numbersAsValues(stored), text).toEqual(numbersAsValues(sent));
      for (const l of literals(text)) expect(isExact(l), l).toBe(true);
    }
    await sink.shutdown();
  });

  it('the document client (presence\'s latest reading, dlq replay) stores exactly what the sink stores, 1e16 included', async () => {
    const rand = mulberry32(12);
    let compared = 0;
    for (let i = 0; i < 200; i++) {
      const text = payloadText(rand, T0 + 10_000 + i);
      const decoded = decodeTelemetry(Buffer.from(text), 'doc', T0 + i, LIMITS);
      if (!decoded.ok) continue;
      const reading = decoded.readings[0] as Reading;
      await clients.doc.send(new PutCommand({ TableName: table, Item: toItem(reading, undefined) }));
      const got = await clients.client.send(new GetItemCommand({ TableName: table, Key: { deviceId: { S: 'doc' }, ts: { N: String(reading.ts) } } }));
      expect(numbersAsValues(got.Item), text).toEqual(numbersAsValues(JSON.parse(encodeItem(reading, undefined))));
      compared++;
    }
    expect(compared).toBeGreaterThan(50);
    const big = decodeTelemetry(Buffer.from('{"ts": 1732480000000, "counter": 1e16}'), 'doc', T0, LIMITS);
    expect(big.ok).toBe(true);
    await clients.doc.send(new PutCommand({ TableName: table, Item: toItem((big as { readings: Reading[] }).readings[0] as Reading, undefined) }));
    const got = await clients.client.send(new GetItemCommand({ TableName: table, Key: { deviceId: { S: 'doc' }, ts: { N: '1732480000000' } } }));
    expect(got.Item?.counter).toEqual({ N: '10000000000000000' });
  });
});

/** Replaces each {N: text} by {N: value} so "1e+21" and "1000000000000000000000" compare equal. */
function numbersAsValues(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(numbersAsValues);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.N === 'string' && Object.keys(o).length === 1) return { N: Number(o.N) };
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, numbersAsValues(x)]));
  }
  return v;
}
