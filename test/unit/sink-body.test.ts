// The DynamoDB sink sends a batch as one request body built at once (encodeBatch), resends that body
// when nothing of the batch was stored, and builds a new one for a part of it (UnprocessedItems).
import { describe, expect, it } from 'vitest';
import type { Reading } from '../../src/ingest/reading.ts';
import { createMetrics } from '../../src/metrics/registry.ts';
import { readingKey } from '../../src/ingest/reading.ts';
import { StoreError } from '../../src/storage/errors.ts';
import { DynamoDbSink } from '../../src/storage/dynamodb/sink.ts';
import type { BatchOutcome, BatchTransport } from '../../src/storage/dynamodb/transport.ts';
import { batchWriteBody, encodeBatch, encodeItem } from '../../src/storage/dynamodb/wire.ts';

const T0 = 1_732_480_000_000;
const TABLE = 'telemetry';

function reading(deviceId: string, ts: number, attributes: Reading['attributes'] = { v: ts, note: 'température' }): Reading {
  return { deviceId, ts: T0 + ts, receivedAt: T0 + ts + 1, attributes, sizeBytes: 100 };
}

/** A transport that records the bodies it is asked to send and answers from a script. */
function scripted(answers: ((count: number) => BatchOutcome | Error)[]): BatchTransport & { readonly calls: { text: string; count: number }[] } {
  const calls: { text: string; count: number }[] = [];
  return {
    tableName: TABLE,
    calls,
    send(body) {
      const count = (JSON.parse(body) as { RequestItems: Record<string, unknown[]> }).RequestItems[TABLE]?.length ?? 0;
      calls.push({ text: body, count });
      const next = answers.shift() ?? (() => ({ unprocessedKeys: [], consumedCapacityUnits: count }));
      const out = next(count);
      return out instanceof Error ? Promise.reject(out) : Promise.resolve(out);
    },
    close: async () => undefined,
  };
}

function sink(transport: BatchTransport, retentionDays?: number): DynamoDbSink {
  return new DynamoDbSink(transport, createMetrics({ defaultMetrics: false }), { retentionDays, writeTimeoutMs: 2_000, backoff: { baseMs: 1, capMs: 2 } });
}

describe('DynamoDB sink: one body per batch', () => {
  it('encodes a batch as the same body as its items joined, leaving out a reading that cannot be encoded', () => {
    const readings = [reading('a', 1), reading('b', 2, { bad: Number.POSITIVE_INFINITY }), reading('c', 3, { n: 1.5, é: 'x' }), reading('d', 4, { big: 1e200 })];
    for (const retention of [undefined, 30]) {
      const batch = encodeBatch(TABLE, readings, retention);
      const good = [readings[0], readings[2]] as Reading[];
      expect(batch.encoded).toEqual(good);
      expect(batch.unencodable.map((u) => u.reading)).toEqual([readings[1], readings[3]]);
      expect(batch.unencodable.map((u) => u.message)).toEqual(['bad: Infinity cannot be stored', "big: 1e+200 is outside DynamoDB's number range"]);
      expect(batch.body).toBe(batchWriteBody(TABLE, good.map((r) => encodeItem(r, retention))));
    }
    expect(encodeBatch(TABLE, [reading('x', 1, { bad: Number.NaN })], undefined).body).toBeUndefined();
  });

  it('sends the batch body first, and resends only the unprocessed readings, in a body of their own', async () => {
    const readings = [reading('a', 1), reading('b', 2), reading('c', 3)];
    const transport = scripted([() => ({ unprocessedKeys: [readingKey('b', T0 + 2)], consumedCapacityUnits: 2 })]);
    const result = await sink(transport, 30).write(readings);
    expect(result.stored.map((r) => r.deviceId).sort()).toEqual(['a', 'b', 'c']);
    expect(transport.calls.map((c) => c.count)).toEqual([3, 1]);
    expect(transport.calls[0]?.text).toBe(batchWriteBody(TABLE, readings.map((r) => encodeItem(r, 30))));
    expect(transport.calls[1]?.text).toBe(batchWriteBody(TABLE, [encodeItem(readings[1] as Reading, 30)]));
  });

  it('resends the same body after an error when nothing of the batch was stored', async () => {
    const readings = [reading('a', 1), reading('b', 2)];
    const transport = scripted([() => new StoreError('network', 'ECONNRESET', 'socket hang up')]);
    const result = await sink(transport).write(readings);
    expect(result.stored).toHaveLength(2);
    expect(transport.calls.map((c) => c.count)).toEqual([2, 2]);
    expect(transport.calls[1]?.text).toBe(transport.calls[0]?.text);
  });

  it('rejects a reading that cannot be encoded on its own and sends the others', async () => {
    const transport = scripted([]);
    const result = await sink(transport).write([reading('a', 1), reading('b', 2, { bad: Number.NaN })]);
    expect(result.stored).toHaveLength(1);
    expect(result.rejected.map((r) => r.reason)).toEqual(['cannot be encoded for DynamoDB: bad: NaN cannot be stored']);
    expect(transport.calls.map((c) => c.count)).toEqual([1]);
    expect(transport.calls[0]?.text).toBe(batchWriteBody(TABLE, [encodeItem(reading('a', 1), undefined)]));
  });
});
