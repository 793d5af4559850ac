// toItem / readingKey: the item a reading becomes.
import { describe, expect, it } from 'vitest';
import type { Reading } from '../../src/ingest/reading.ts';
import { readingKey, toItem } from '../../src/storage/item.ts';

const TS = 1_732_480_000_123;

function reading(overrides: Partial<Reading> = {}): Reading {
  return { deviceId: 'dev-1', ts: TS, receivedAt: TS + 50, attributes: { temperature: 21.4, gps: { lat: 1, lon: 2 }, tags: ['a'] }, sizeBytes: 100, ...overrides };
}

describe('toItem', () => {
  it('is {deviceId, ts, receivedAt, ...attributes} with native nested values and no expiresAt without retention', () => {
    const item = toItem(reading(), undefined);
    expect(item).toEqual({ deviceId: 'dev-1', ts: TS, receivedAt: TS + 50, temperature: 21.4, gps: { lat: 1, lon: 2 }, tags: ['a'] });
    expect('expiresAt' in item).toBe(false);
  });

  it('server attributes win over same-named attributes (decode forbids them; defence in depth)', () => {
    const item = toItem(reading({ attributes: { deviceId: 'evil', ts: 1, receivedAt: 2, a: 1 } }), undefined);
    expect(item).toMatchObject({ deviceId: 'dev-1', ts: TS, receivedAt: TS + 50, a: 1 });
  });

  it('expiresAt = floor(ts / 1000) + days * 86400 when retention is set', () => {
    expect(toItem(reading(), 30).expiresAt).toBe(1_732_480_000 + 30 * 86_400);
    expect(toItem(reading({ ts: 1_732_480_000_999 }), 1).expiresAt).toBe(1_732_480_000 + 86_400);
    expect(toItem(reading({ ts: 1_732_480_000_000 }), 1).expiresAt).toBe(1_732_480_000 + 86_400);
  });

  it('a payload expiresAt is overridden by the server when retention is set', () => {
    expect(toItem(reading({ attributes: { expiresAt: 5, a: 1 } }), 2).expiresAt).toBe(1_732_480_000 + 2 * 86_400);
  });

  it('does not mutate the reading', () => {
    const r = reading();
    const before = JSON.stringify(r);
    toItem(r, 10).extra = 1;
    expect(JSON.stringify(r)).toBe(before);
  });
});

describe('readingKey', () => {
  it('is equal for equal (deviceId, ts) and distinct otherwise', () => {
    expect(readingKey('a', 1)).toBe(readingKey('a', 1));
    expect(readingKey('a', 1)).not.toBe(readingKey('a', 2));
    expect(readingKey('a', 1)).not.toBe(readingKey('b', 1));
    // No ambiguity between device ids that are prefixes of each other.
    expect(readingKey('a1', 23)).not.toBe(readingKey('a', 123));
  });
});
