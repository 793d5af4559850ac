// Pure parts of the live tail and commands: the stored-readings tap reports batches in the order
// they were written (not the order they finished), topic filters match as MQTT says, and a command's
// status reads expired past its deadline.
import { describe, expect, it } from 'vitest';
import { filterMatches } from '../../src/broker/internals.ts';
import { currentStatus, newCommand, newCommandId } from '../../src/commands/command.ts';
import type { Reading } from '../../src/ingest/reading.ts';
import type { ReadingSink, WriteResult } from '../../src/ingest/sink.ts';
import { tapStored } from '../../src/live/stored-tap.ts';

const reading = (deviceId: string, ts: number): Reading => ({ deviceId, ts, receivedAt: ts, attributes: { v: ts }, sizeBytes: 10 });

function controllableSink(): { sink: ReadingSink; finish(i: number, result: (r: readonly Reading[]) => WriteResult): void } {
  const pending: { readings: readonly Reading[]; resolve: (r: WriteResult) => void }[] = [];
  return {
    sink: {
      write: (readings) => new Promise((resolve) => pending.push({ readings, resolve })),
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    },
    finish(i, result) {
      const p = pending[i] as (typeof pending)[number];
      p.resolve(result(p.readings));
    },
  };
}

describe('tapStored', () => {
  it('reports batches in write order, a batch that finishes first waiting for the earlier one', async () => {
    const { sink, finish } = controllableSink();
    const reported: number[][] = [];
    const tapped = tapStored(sink, (rs) => reported.push(rs.map((r) => r.ts)));
    const first = tapped.write([reading('a', 1), reading('a', 2)]);
    const second = tapped.write([reading('a', 3)]);
    finish(1, (rs) => ({ stored: [...rs], rejected: [], failed: [] }));
    // The second batch's result goes to the batcher at once ...
    expect((await second).stored.map((r) => r.ts)).toEqual([3]);
    // ... but its report waits for the first batch.
    expect(reported).toEqual([]);
    finish(0, (rs) => ({ stored: [...rs].reverse(), rejected: [], failed: [] }));
    await first;
    expect(reported).toEqual([[1, 2], [3]]);
  });

  it('reports only stored readings, and a failed batch does not block later ones', async () => {
    const { sink, finish } = controllableSink();
    const reported: number[][] = [];
    const tapped = tapStored(sink, (rs) => reported.push(rs.map((r) => r.ts)));
    const a = tapped.write([reading('a', 1), reading('b', 2)]);
    const b = tapped.write([reading('a', 3)]);
    finish(0, (rs) => ({ stored: [rs[1] as Reading], rejected: [{ reading: rs[0] as Reading, reason: 'bad' }], failed: [] }));
    finish(1, (rs) => ({ stored: [], rejected: [], failed: [...rs], failure: new Error('down') }));
    await Promise.all([a, b]);
    const c = tapped.write([reading('a', 4)]);
    finish(2, (rs) => ({ stored: [...rs], rejected: [], failed: [] }));
    await c;
    expect(reported).toEqual([[2], [4]]);
  });
});

describe('filterMatches', () => {
  it.each([
    ['$stored/devices/+/telemetry', '$stored/devices/a/telemetry', true],
    ['$stored/devices/a/telemetry', '$stored/devices/b/telemetry', false],
    ['devices/a/commands/#', 'devices/a/commands/open', true],
    ['devices/a/commands/+', 'devices/a/commands/open', true],
    ['devices/a/commands/+', 'devices/a/commands', false],
    ['devices/a/commands/open', 'devices/a/commands/close', false],
    ['devices/+/telemetry', 'devices/a/b/telemetry', false],
  ])('%s vs %s -> %s', (filter, topic, expected) => {
    expect(filterMatches(filter, topic)).toBe(expected);
  });
});

describe('commands', () => {
  it('ids sort in issue order and status reads expired past the deadline', () => {
    const ids = [1_000, 2_000, 1_700_000_000_000, 1_700_000_000_001].map(newCommandId);
    expect([...ids].sort()).toEqual(ids);
    const c = newCommand('d', { name: 'x', ttlSeconds: 10 }, 1_000_000);
    expect(c.deadlineAt).toBe(1_010_000);
    expect(c.purgeAt).toBe(1_010 + 86_400);
    expect(currentStatus(c, 1_010_000)).toBe('queued');
    expect(currentStatus(c, 1_010_001)).toBe('expired');
    expect(currentStatus({ ...c, status: 'answered' }, 9_999_999)).toBe('answered');
  });
});
