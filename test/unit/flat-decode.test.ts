// The flat fast path of decoding (src/ingest/flat-decode.ts) against the general decoder: over
// generated payloads — flat and not, valid and subtly invalid, names repeated across messages so
// the name cache is hit and missed — the fast path returns undefined or exactly the general
// decoder's reading (same values, -0 included, same key order), never a reading the general one
// refuses. It also has to take the common payloads, or it would save nothing.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { decodeTelemetry, decodeTelemetryGeneral } from '../../src/ingest/decode.ts';
import type { DecodeLimits } from '../../src/ingest/decode.ts';
import { FlatReading, decodeFlatReading } from '../../src/ingest/flat-decode.ts';
import type { Reading } from '../../src/ingest/reading.ts';
import { encodeItem } from '../../src/storage/dynamodb/wire.ts';
import { mulberry32 } from '../../simulator/prng.ts';

const NOW = Date.parse('2024-11-24T20:26:40.123Z');
const DEVICE = 'sensor-1';
const LIMITS: DecodeLimits = {
  maxPayloadBytes: 128 * 1024,
  maxReadingsPerMessage: 500,
  maxAttributesPerReading: 12,
  maxDepth: 8,
  maxFutureSkewMs: 5 * 60_000,
  maxItemBytes: 400,
};

const NAMES = ['temperature', 'humidity', 'rssi', 'mode', 'ts', 'a', 'b_2', 'Z9', 'values', 'deviceId', 'receivedAt', 'expiresAt', '__proto__', 'constructor', 'toString', '1', '42', 'x-y', 'ü', 'a"b', '', 'n'.repeat(64), 'n'.repeat(65)];
const STRINGS = ['"heat"', '""', '"2.4.1"', '"a\\"b"', '"\\u0041"', '"é"', '"tab\there"', '"~ok~"', '"\u007f"', `"${'s'.repeat(300)}"`];
const TS_VALUES = ['1732480000123', '1732480000123.0', '1732480000123.5', '1732480000', '"2024-11-24T20:26:40.123Z"', '"2024-02-30T00:00:00Z"', '"yesterday"', 'null', 'true', '99999999999999999', '1.73248e12', `${NOW + 3_600_000}`];

function numberText(rand: () => number): string {
  const pick = Math.floor(rand() * 14);
  const digits = (k: number): string => Array.from({ length: k }, () => Math.floor(rand() * 10)).join('');
  switch (pick) {
    case 0: return '-0';
    case 1: return '0';
    case 2: return `0.${digits(1 + Math.floor(rand() * 16))}`;
    case 3: return `${1 + Math.floor(rand() * 9)}${digits(Math.floor(rand() * 17))}`;
    case 4: return `-${1 + Math.floor(rand() * 9)}${digits(Math.floor(rand() * 8))}.${digits(1 + Math.floor(rand() * 9))}`;
    case 5: return `${digits(1)}.${digits(3)}e${Math.floor(rand() * 40) - 20}`;
    case 6: return `0${digits(2)}`; // leading zero: invalid JSON
    case 7: return `${digits(2)}.`; // invalid
    case 8: return `${digits(2)}.500`;
    case 9: return '1e-400';
    case 10: return '9007199254740993';
    case 11: return `0.${'0'.repeat(Math.floor(rand() * 20))}1`;
    case 12: return '-';
    default: return `${1 + Math.floor(rand() * 99)}.${digits(2)}`;
  }
}

function valueText(rand: () => number): string {
  const r = rand();
  if (r < 0.45) return numberText(rand);
  if (r < 0.7) return STRINGS[Math.floor(rand() * STRINGS.length)] as string;
  if (r < 0.8) return ['true', 'false', 'null', 'tru', 'nul'][Math.floor(rand() * 5)] as string;
  if (r < 0.9) return ['{}', '{"x":1}', '[1,2]', '[]'][Math.floor(rand() * 4)] as string;
  return TS_VALUES[Math.floor(rand() * TS_VALUES.length)] as string;
}

function cleanValueText(rand: () => number): string {
  const r = rand();
  if (r < 0.5) return [`${Math.floor(rand() * 2000) - 1000}`, `${Math.floor(rand() * 10_000) / 100}`, '-0', '0', '0.5', '21.50'][Math.floor(rand() * 6)] as string;
  if (r < 0.8) return STRINGS[Math.floor(rand() * 3)] as string;
  return ['true', 'false', 'null'][Math.floor(rand() * 3)] as string;
}

const ws = (rand: () => number): string => (rand() < 0.8 ? '' : [' ', '\n', '\t', '\r\n  '][Math.floor(rand() * 4)] as string);

/** A payload that is usually one flat object; names come from a small pool so shapes repeat. */
function payload(rand: () => number): string {
  const r = rand();
  if (r < 0.03) return `[${'{"ts":1732480000123,"a":1}'}]`;
  if (r < 0.05) return '{}';
  if (r < 0.06) return '\ufeff{"a":1}';
  const members: string[] = [];
  // Half of them clean (names and values the fast path takes, mostly), half anything.
  const clean = rand() < 0.5;
  const count = 1 + Math.floor(rand() * (clean ? 6 : 14));
  for (let k = 0; k < count; k++) {
    const name = clean || rand() < 0.7 ? (NAMES[Math.floor(rand() * 8)] as string) : (NAMES[Math.floor(rand() * NAMES.length)] as string);
    const value = name === 'ts' ? (TS_VALUES[Math.floor(rand() * (clean ? 2 : TS_VALUES.length))] as string) : clean ? cleanValueText(rand) : valueText(rand);
    members.push(`${ws(rand)}${JSON.stringify(name)}${ws(rand)}:${ws(rand)}${value}${ws(rand)}`);
  }
  let text = `${ws(rand)}{${members.join(',')}}${ws(rand)}`;
  if (rand() < 0.03) text += 'x';
  if (rand() < 0.03) text = text.slice(0, Math.floor(rand() * text.length));
  return text;
}

/** A reading's fields as a plain object (a FlatReading's attributes come from a getter). */
function view(r: Reading): Reading {
  return { deviceId: r.deviceId, ts: r.ts, receivedAt: r.receivedAt, attributes: r.attributes, sizeBytes: r.sizeBytes };
}

/** The item the store gets, its members sorted by name: the same members and texts, whatever order they are written in. */
function item(r: Reading): string {
  const members = JSON.parse(encodeItem(r, 30)) as Record<string, unknown>;
  return JSON.stringify(Object.keys(members).sort().map((name) => [name, members[name]]));
}

const kinds = { object: 0, text: 0 };

function expectSameAsGeneral(bytes: Buffer): 'fast' | 'general' {
  const fast = decodeFlatReading(bytes, DEVICE, NOW, LIMITS);
  const general = decodeTelemetryGeneral(bytes, DEVICE, NOW, LIMITS);
  if (fast === undefined) return 'general';
  if (!general.ok) throw new Error(`fast path accepted what the general decoder refuses (${general.reason}: ${general.message}): ${bytes.toString()}`);
  expect(general.readings).toHaveLength(1);
  const expected = general.readings[0] as Reading;
  // The encoder's copy from the text before anything parses the attributes (which a FlatReading keeps).
  expect(item(fast)).toStrictEqual(item(expected));
  if (fast instanceof FlatReading) {
    kinds.text++;
    expect(fast.flatText).toBe(bytes.toString('latin1'));
  } else kinds.object++;
  expect(view(fast)).toStrictEqual(view(expected));
  expect(Object.keys(fast.attributes)).toEqual(Object.keys(expected.attributes));
  for (const [k, v] of Object.entries(fast.attributes)) expect(Object.is(v, expected.attributes[k])).toBe(true);
  return 'fast';
}

describe('flat fast path of decoding', () => {
  it('takes the common payloads, and gives exactly what the general decoder gives', () => {
    const common = [
      '{"ts":1732480000123,"temperature":21.47,"humidity":40.12,"battery":87,"rssi":-67,"firmware":"2.4.1","mode":"heat","setpoint":21.5,"heating":true,"status":"ok"}',
      '{"temperature":21.4}',
      '{ "ts": "2024-11-24T20:26:40.123Z", "on": false, "note": null, "v": -0, "w": 0.5, "z": 123456789012345 }',
      '{"ts":1732480000000,"temperature":-3.25,"constructor":1}',
    ];
    for (const text of common) {
      expect(expectSameAsGeneral(Buffer.from(text)), text).toBe('fast');
      // Twice in a row: the second one runs on cached names.
      expect(expectSameAsGeneral(Buffer.from(text)), text).toBe('fast');
      const full = decodeTelemetry(Buffer.from(text), DEVICE, NOW, LIMITS);
      const general = decodeTelemetryGeneral(Buffer.from(text), DEVICE, NOW, LIMITS);
      if (!full.ok || !general.ok) throw new Error(`${text} refused`);
      expect(full.readings.map(view)).toStrictEqual(general.readings.map(view));
    }
  });

  it('gives the same reading from a known shape as from a new one: other values and types, fewer members, another order', () => {
    const sequence = [
      '{"ts":1732480000123,"a":1,"b":"x","c":true}',
      '{"ts":1732480000124,"a":2.5,"b":"y","c":false}', // same names: built from the shape's template
      '{"ts":1732480000125,"a":"text","b":null,"c":-0}', // same names, other types
      '{"ts":1732480000126,"a":3,"b":"z"}', // the shape's first members only
      '{"ts":1732480000127,"a":4,"b":"w","c":true}',
      '{"ts":1732480000128,"b":"v","a":5,"c":false}', // same names, another order
      '{"a":6,"b":"u","c":null}', // no ts: one member fewer at the front
      // Two device types taking turns, each shape seen again after the other.
      '{"ts":1732480000129,"x":1,"y":2}',
      '{"ts":1732480000130,"a":7,"b":"t","c":true}',
      '{"ts":1732480000131,"x":3,"y":4}',
      '{"ts":1732480000132,"x":5,"y":"six"}',
      '{"ts":1732480000133,"x":7,"y":8}',
    ];
    for (const text of sequence) {
      expect(expectSameAsGeneral(Buffer.from(text)), text).toBe('fast');
    }
  });

  it('declines what only the general decoder can decide', () => {
    const declined = [
      '{"a":1,"a":2}', // duplicate: JSON.parse keeps the last
      '{"a":1,"b":2,"a":3}',
      '{"ts":1732480000123,"ts":1732480000124,"a":1}',
      '{"ts":1732480000123,"values":{"a":1}}',
      '{"a":{"b":1}}',
      '{"a":[1]}',
      '{"a":"\\u00e9"}',
      '{"a":"é"}',
      '{"a":1e3}',
      '{"a":1234567890123456}',
      '{"deviceId":"x"}',
      '{"__proto__":1}',
      '{"ts":1.5,"a":1}',
      '[{"a":1}]',
      '\ufeff{"a":1}',
      '{"a":1}x',
      '{}',
    ];
    for (const text of declined) expect(decodeFlatReading(Buffer.from(text), DEVICE, NOW, LIMITS), text).toBeUndefined();
    // After an accepted payload with names a, b: a duplicate that matches the cached names at first.
    expect(expectSameAsGeneral(Buffer.from('{"a":1,"b":2}'))).toBe('fast');
    expect(decodeFlatReading(Buffer.from('{"a":1,"a":2}'), DEVICE, NOW, LIMITS)).toBeUndefined();
    expect(decodeFlatReading(Buffer.from('{"a":1,"b":2,"b":3}'), DEVICE, NOW, LIMITS)).toBeUndefined();
    expect(expectSameAsGeneral(Buffer.from('{"a":1,"b":2,"c":3}'))).toBe('fast');
  });

  it('agrees with the general decoder on 30,000 generated payloads', () => {
    const rand = mulberry32(20261202);
    const taken = { fast: 0, general: 0 };
    const before = { ...kinds };
    for (let n = 0; n < 30_000; n++) {
      const text = payload(rand);
      taken[expectSameAsGeneral(Buffer.from(text))]++;
      // Sent again, as a device does: a shape just seen.
      if (rand() < 0.5) taken[expectSameAsGeneral(Buffer.from(text))]++;
    }
    // Both sides are exercised: a fast path that declined everything would pass the check above,
    // and so would one that never gave a reading by its text.
    expect(taken.fast).toBeGreaterThan(3_000);
    expect(taken.general).toBeGreaterThan(3_000);
    expect(kinds.text - before.text).toBeGreaterThan(1_000);
    expect(kinds.object - before.object).toBeGreaterThan(1_000);
  });

  it('keeps no copy of the payload alive through the strings of a reading', () => {
    setFlagsFromString('--expose_gc');
    const gc = runInNewContext('gc') as () => void;
    const kept: unknown[] = [];
    gc();
    const before = process.memoryUsage().heapUsed;
    // 2,000 queued readings, each from a 4,000-byte payload whose one value is a 20-character string
    // and whose name is 13 characters: a string sliced from the payload's text would keep all of it.
    for (let i = 0; i < 2_000; i++) {
      const payload = Buffer.from(`{"firmware_name":"v2.4.1-b${String(i).padStart(12, '0')}"${' '.repeat(3_950)}}`);
      kept.push(decodeFlatReading(payload, DEVICE, NOW, LIMITS));
    }
    gc();
    const grownBytes = process.memoryUsage().heapUsed - before;
    expect(kept.every((r) => r !== undefined)).toBe(true);
    // The readings themselves take a few hundred bytes each; their payload texts would take 8 MB.
    expect(grownBytes).toBeLessThan(2_000_000);
  });
});
