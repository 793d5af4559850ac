// decodeTelemetry: every accepted payload form, every InvalidReason with an input that produces it,
// and a seeded property test that random valid readings round-trip.
import { describe, expect, it } from 'vitest';
import { decodeTelemetry } from '../../src/ingest/decode.ts';
import type { DecodeLimits, DecodeResult } from '../../src/ingest/decode.ts';
import { INVALID_REASONS } from '../../src/ingest/reading.ts';
import type { AttributeValue, InvalidReason, Reading } from '../../src/ingest/reading.ts';
import { mulberry32 } from '../../simulator/prng.ts';

const NOW = Date.parse('2024-11-24T20:26:40.123Z'); // 1732480000123
const DEVICE = 'sensor-1';
const LIMITS: DecodeLimits = {
  maxPayloadBytes: 128 * 1024,
  maxReadingsPerMessage: 500,
  maxAttributesPerReading: 100,
  maxDepth: 8,
  maxFutureSkewMs: 5 * 60_000,
  maxItemBytes: 400_000,
};

function decode(payload: unknown, limits: Partial<DecodeLimits> = {}): DecodeResult {
  const bytes = payload instanceof Uint8Array ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
  return decodeTelemetry(bytes, DEVICE, NOW, { ...LIMITS, ...limits });
}

function ok(payload: unknown, limits: Partial<DecodeLimits> = {}): Reading[] {
  const r = decode(payload, limits);
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}: ${r.message}`);
  return r.readings;
}

function bad(payload: unknown, limits: Partial<DecodeLimits> = {}): { reason: InvalidReason; message: string } {
  const r = decode(payload, limits);
  if (r.ok) throw new Error(`expected invalid, got ${JSON.stringify(r.readings)}`);
  return { reason: r.reason, message: r.message };
}

describe('decodeTelemetry: accepted forms', () => {
  it('one flat reading: ts taken out, the rest are attributes, deviceId and receivedAt from the server', () => {
    const [r, ...rest] = ok({ ts: NOW - 1000, temperature: 21.4, humidity: 40.2 });
    expect(rest).toHaveLength(0);
    expect(r).toMatchObject({ deviceId: DEVICE, ts: NOW - 1000, receivedAt: NOW, attributes: { temperature: 21.4, humidity: 40.2 } });
    expect(Object.keys(r?.attributes ?? {})).toEqual(['temperature', 'humidity']);
    expect(r?.sizeBytes).toBeGreaterThan(0);
  });

  it('ThingsBoard style {ts, values}', () => {
    const [r] = ok({ ts: NOW - 5, values: { temperature: 21.4, ok: true, note: 'x', nothing: null } });
    expect(r).toMatchObject({ ts: NOW - 5, attributes: { temperature: 21.4, ok: true, note: 'x', nothing: null } });
  });

  it('{values} without ts uses the receive time', () => {
    expect(ok({ values: { a: 1 } })[0]?.ts).toBe(NOW);
  });

  it('an array of flat readings', () => {
    const rs = ok([{ ts: NOW - 2, a: 1 }, { ts: NOW - 1, a: 2 }]);
    expect(rs.map((r) => [r.ts, r.attributes.a])).toEqual([[NOW - 2, 1], [NOW - 1, 2]]);
  });

  it('an array of {ts, values} readings', () => {
    const rs = ok([{ ts: NOW - 2, values: { a: 1 } }, { ts: NOW - 1, values: { b: 'x' } }]);
    expect(rs.map((r) => r.attributes)).toEqual([{ a: 1 }, { b: 'x' }]);
  });

  it('an array mixing both forms', () => {
    const rs = ok([{ ts: NOW - 2, values: { a: 1 } }, { ts: NOW - 1, b: 2 }]);
    expect(rs.map((r) => r.attributes)).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('ts as epoch ms number', () => {
    expect(ok({ ts: 1_732_480_000_000, a: 1 })[0]?.ts).toBe(1_732_480_000_000);
  });

  it('ts as ISO-8601 with Z, with milliseconds or without seconds', () => {
    expect(ok({ ts: '2024-11-24T20:26:40.123Z', a: 1 })[0]?.ts).toBe(1_732_480_000_123);
    expect(ok({ ts: '2024-11-24T20:26:40Z', a: 1 })[0]?.ts).toBe(1_732_480_000_000);
    expect(ok({ ts: '2024-11-24T20:26Z', a: 1 })[0]?.ts).toBe(1_732_479_960_000);
  });

  it('ts as ISO-8601 with an offset (with or without colon)', () => {
    expect(ok({ ts: '2024-11-24T21:26:40.123+01:00', a: 1 })[0]?.ts).toBe(1_732_480_000_123);
    expect(ok({ ts: '2024-11-24T21:26:40.123+0100', a: 1 })[0]?.ts).toBe(1_732_480_000_123);
    expect(ok({ ts: '2024-11-24T15:26:40.123-05:00', a: 1 })[0]?.ts).toBe(1_732_480_000_123);
  });

  it('ts absent: the receive time', () => {
    expect(ok({ a: 1 })[0]).toMatchObject({ ts: NOW, receivedAt: NOW });
  });

  it('ts exactly at the future-skew limit is accepted', () => {
    expect(ok({ ts: NOW + LIMITS.maxFutureSkewMs, a: 1 })[0]?.ts).toBe(NOW + LIMITS.maxFutureSkewMs);
  });

  it('nested objects and arrays stay native', () => {
    const value = { gps: { lat: 52.5, lon: 13.4, fix: [1, 'two', { three: true }] }, tags: ['a', 'b'], zero: 0, neg: -1.5e-10 };
    expect(ok({ ts: NOW, ...value })[0]?.attributes).toEqual(value);
  });

  it('numbers at the edges of the DynamoDB range are accepted', () => {
    expect(ok({ big: 9e125, small: 1e-130, negative: -9e125 })[0]?.attributes).toEqual({ big: 9e125, small: 1e-130, negative: -9e125 });
  });

  it('a payload exactly at the byte limit is accepted', () => {
    const payload = JSON.stringify({ a: 'x'.repeat(100) });
    expect(ok(payload, { maxPayloadBytes: Buffer.byteLength(payload) })).toHaveLength(1);
  });

  it('a UTF-8 BOM is tolerated and multi-byte strings decode', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ city: 'Zürich 東京 🌡' }))]);
    expect(ok(bytes)[0]?.attributes).toEqual({ city: 'Zürich 東京 🌡' });
  });
});

describe('decodeTelemetry: every invalid reason', () => {
  const seen = new Set<InvalidReason>();
  const expectBad = (payload: unknown, reason: InvalidReason, mentions: (string | RegExp)[], limits: Partial<DecodeLimits> = {}): void => {
    const r = bad(payload, limits);
    expect(r.reason).toBe(reason);
    for (const m of mentions) expect(r.message).toMatch(m);
    seen.add(reason);
  };

  it('malformed_json: not JSON', () => {
    expectBad('{"a": 1', 'malformed_json', [/JSON/]);
    expectBad('', 'malformed_json', [/JSON/]);
    expectBad("{'a': 1}", 'malformed_json', [/JSON/]);
  });

  it('malformed_json: a syntax error names the byte and its offset (checked on the bytes, before JSON.parse)', () => {
    expectBad(Buffer.alloc(1000, 0x7a), 'malformed_json', [/not UTF-8 JSON/, /unexpected byte 0x7a where a value belongs at byte 0/]);
    expectBad(`{${'z'.repeat(1000)}}`, 'malformed_json', [/unexpected byte 0x7a where a property name belongs at byte 1/]);
    expectBad('{"ts": 17, "temperature": ', 'malformed_json', [/ends too early/]);
    expectBad(' \r\n\t ', 'malformed_json', [/JSON/, /empty/]);
  });

  it('the syntax check lets every JSON value through: whitespace and a BOM around a reading, scalars get their own reason', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(' \n{"a": 1}\r\n\t')]);
    expect(ok(bytes)[0]?.attributes).toEqual({ a: 1 });
    for (const scalar of ['-1', '0', '7', 'true', 'false', 'null', '"s"', '1e5']) expectBad(scalar, 'invalid_shape', [/JSON object/]);
  });

  it('malformed_json: invalid UTF-8 bytes', () => {
    const bytes = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    expectBad(bytes, 'malformed_json', [/UTF-8/]);
    // An overlong encoding of "/" (0xC0 0xAF) is invalid UTF-8 too.
    expectBad(Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]), 'malformed_json', [/UTF-8/]);
  });

  it('invalid_shape: empty array', () => {
    expectBad([], 'invalid_shape', [/empty array/]);
  });

  it('invalid_shape: array of numbers, and scalars at the top', () => {
    expectBad([1, 2], 'invalid_shape', [/JSON object/]);
    expectBad(42, 'invalid_shape', [/JSON object/]);
    expectBad('"text"', 'invalid_shape', [/JSON object/]);
    expectBad('null', 'invalid_shape', [/JSON object/]);
    expectBad([[{ a: 1 }]], 'invalid_shape', [/JSON object/]);
  });

  it('invalid_shape: values not an object', () => {
    expectBad({ ts: NOW, values: 5 }, 'invalid_shape', [/"values" must be an object/]);
    expectBad({ ts: NOW, values: [1, 2] }, 'invalid_shape', [/"values"/]);
    expectBad({ ts: NOW, values: null }, 'invalid_shape', [/"values"/]);
  });

  it('invalid_shape: an extra key beside values', () => {
    expectBad({ ts: NOW, values: { a: 1 }, b: 2 }, 'invalid_shape', [/nothing else may stand beside it/]);
  });

  it('invalid_shape in the second reading of an array names its index', () => {
    expectBad([{ ts: NOW, a: 1 }, 7], 'invalid_shape', [/reading 1/]);
  });

  it('payload_too_large: one byte over the limit, before any parsing', () => {
    const payload = `{"a":"${'x'.repeat(93)}"}`; // 101 bytes
    expect(Buffer.byteLength(payload)).toBe(101);
    expectBad(payload, 'payload_too_large', [/101 bytes/, /limit 100/], { maxPayloadBytes: 100 });
    // Even garbage is refused for its size first.
    expectBad('x'.repeat(101), 'payload_too_large', [/101/], { maxPayloadBytes: 100 });
  });

  it('too_many_readings', () => {
    const readings = [1, 2, 3, 4].map((i) => ({ ts: NOW - i, a: i }));
    expectBad(readings, 'too_many_readings', [/4 readings/, /limit 3/], { maxReadingsPerMessage: 3 });
    expect(ok(readings.slice(0, 3), { maxReadingsPerMessage: 3 })).toHaveLength(3);
  });

  it('too_many_attributes (flat and values form)', () => {
    expectBad({ a: 1, b: 2, c: 3 }, 'too_many_attributes', [/more than 2 attributes/], { maxAttributesPerReading: 2 });
    expectBad({ ts: NOW, values: { a: 1, b: 2, c: 3 } }, 'too_many_attributes', [/2/], { maxAttributesPerReading: 2 });
    // ts does not count as an attribute.
    expect(ok({ ts: NOW, a: 1, b: 2 }, { maxAttributesPerReading: 2 })).toHaveLength(1);
  });

  it('invalid_attribute_name: characters, length, empty, nested empty key', () => {
    expectBad({ 'bad-name': 1 }, 'invalid_attribute_name', [/bad-name/, /\[A-Za-z0-9_\]/]);
    expectBad({ 'temp.c': 1 }, 'invalid_attribute_name', [/temp\.c/]);
    expectBad({ ['x'.repeat(65)]: 1 }, 'invalid_attribute_name', [/x{65}/, /1-64/]);
    expectBad({ '': 1 }, 'invalid_attribute_name', [/""/]);
    expectBad({ values: { 'a b': 1 } }, 'invalid_attribute_name', [/a b/]);
    expectBad({ gps: { '': 1 } }, 'invalid_attribute_name', [/gps/, /empty/]);
    expect(ok({ ['x'.repeat(64)]: 1 })).toHaveLength(1);
  });

  it('reserved_attribute: deviceId, receivedAt, expiresAt in flat form', () => {
    for (const name of ['deviceId', 'receivedAt', 'expiresAt']) {
      expectBad({ ts: NOW, [name]: 'x', a: 1 }, 'reserved_attribute', [new RegExp(`"${name}"`), /reserved/]);
    }
  });

  it('reserved_attribute: any reserved name inside values, ts included', () => {
    for (const name of ['ts', 'deviceId', 'receivedAt', 'expiresAt']) {
      expectBad({ ts: NOW, values: { [name]: NOW, a: 1 } }, 'reserved_attribute', [new RegExp(`"${name}"`)]);
    }
  });

  it('invalid_value: numbers outside the DynamoDB range, named by path', () => {
    expectBad({ a: 1e200 }, 'invalid_value', [/^a: /, /1e\+200/, /range/]);
    expectBad({ a: -1e200 }, 'invalid_value', [/-1e\+200/]);
    expectBad({ a: 1e-200 }, 'invalid_value', [/1e-200/]);
    expectBad({ a: { b: [1, 1e127] } }, 'invalid_value', [/a\.b\[1\]/]);
    expectBad('{"a": 1e400}', 'invalid_value', [/Infinity/]);
  });

  it('inexact_number: a number a double cannot hold exactly is refused, never silently changed', () => {
    expectBad('{"a": 1e-400}', 'inexact_number', [/1e-400/, /become 0/]);
    expectBad('{"a": 9007199254740993}', 'inexact_number', [/9007199254740993/]);
    expectBad('{"a": {"b": [1, 18446744073709551615]}}', 'inexact_number', [/18446744073709551615/]);
    expectBad('{"a": 1.00000000000000000001}', 'inexact_number', [/1\.00000000000000000001/]);
    // Exact ones pass, whatever their notation, and strings that look like numbers are strings.
    expect(ok('{"a": 1e16, "b": 9007199254740992, "c": 1.5e3, "d": 0.1, "e": "1e-400", "f": 123.450}')[0]?.attributes).toEqual({ a: 1e16, b: 9007199254740992, c: 1500, d: 0.1, e: '1e-400', f: 123.45 });
  });

  it('too_deep: nesting beyond maxDepth, named by path', () => {
    expect(ok({ a: { b: { c: 1 } } }, { maxDepth: 2 })).toHaveLength(1);
    expectBad({ a: { b: { c: {} } } }, 'too_deep', [/a\.b\.c/, /deeper than 2/], { maxDepth: 2 });
    expectBad({ a: [[[1]]] }, 'too_deep', [/a\[0\]\[0\]/], { maxDepth: 2 });
  });

  it('invalid_ts: a float', () => {
    expectBad({ ts: 1732480000123.5, a: 1 }, 'invalid_ts', [/integer epoch milliseconds/, /1732480000123\.5/]);
  });

  it('invalid_ts: epoch seconds (taken for a unit mistake)', () => {
    expectBad({ ts: 1_732_480_000, a: 1 }, 'invalid_ts', [/1732480000/, /epoch seconds/]);
    expectBad({ ts: -1, a: 1 }, 'invalid_ts', [/out of range/]);
  });

  it('invalid_ts: strings that are not ISO-8601 with a zone, or no real date', () => {
    expectBad({ ts: 'yesterday', a: 1 }, 'invalid_ts', [/ISO-8601/, /yesterday/]);
    expectBad({ ts: '2024-11-24T20:26:40', a: 1 }, 'invalid_ts', [/ISO-8601/, /2024-11-24T20:26:40/]); // no zone
    expectBad({ ts: '2024-11-24', a: 1 }, 'invalid_ts', [/ISO-8601/]);
    expectBad({ ts: '1732480000123', a: 1 }, 'invalid_ts', [/ISO-8601/]);
    expectBad({ ts: '2024-13-01T00:00:00Z', a: 1 }, 'invalid_ts', [/not a valid date/, /2024-13-01/]);
  });

  it('invalid_ts: null, boolean, object', () => {
    expectBad({ ts: null, a: 1 }, 'invalid_ts', [/got null/]);
    expectBad({ ts: true, a: 1 }, 'invalid_ts', [/got boolean/]);
    expectBad({ ts: { ms: 1 }, values: { a: 1 } }, 'invalid_ts', [/got object/]);
  });

  it('future_ts: more than maxFutureSkewMs ahead', () => {
    expectBad({ ts: NOW + LIMITS.maxFutureSkewMs + 1, a: 1 }, 'future_ts', [/300001 ms in the future/, /limit 300000 ms/]);
    expectBad({ ts: '2030-01-01T00:00:00Z', a: 1 }, 'future_ts', [/in the future/]);
    expectBad({ ts: NOW + 1, a: 1 }, 'future_ts', [/1 ms in the future/], { maxFutureSkewMs: 0 });
  });

  it('item_too_large: the estimated item exceeds maxItemBytes', () => {
    expectBad({ blob: 'x'.repeat(2000) }, 'item_too_large', [/about \d+ bytes/, /limit 1000/], { maxItemBytes: 1000 });
  });

  it('empty_reading: no attribute besides ts', () => {
    expectBad({}, 'empty_reading', [/at least one attribute/]);
    expectBad({ ts: NOW }, 'empty_reading', [/at least one attribute/]);
    expectBad({ ts: NOW, values: {} }, 'empty_reading', [/at least one attribute/]);
    expectBad([{ ts: NOW - 1, a: 1 }, { ts: NOW }], 'empty_reading', [/reading 1/]);
  });

  it('covers every InvalidReason', () => {
    expect([...seen].sort()).toEqual([...INVALID_REASONS].sort());
  });
});

// ---- property test: random valid readings round-trip ------------------------------------------


const NAME_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_';
const STRING_CHARS = ['a', 'Z', '0', ' ', '"', '\\', '\n', 'é', '東', '🌡', '\u0000', '{', '}'];
const RESERVED = new Set(['deviceId', 'ts', 'receivedAt', 'expiresAt', 'values', '__proto__']);

class Gen {
  constructor(readonly rand: () => number) {}
  int(min: number, max: number): number {
    return min + Math.floor(this.rand() * (max - min + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)] as T;
  }
  name(): string {
    for (;;) {
      let s = '';
      const len = this.int(1, 12);
      for (let i = 0; i < len; i++) s += this.pick([...NAME_CHARS]);
      if (!RESERVED.has(s)) return s;
    }
  }
  string(): string {
    let s = '';
    const len = this.int(0, 20);
    for (let i = 0; i < len; i++) s += this.pick(STRING_CHARS);
    return s;
  }
  number(): number {
    switch (this.int(0, 3)) {
      case 0: return this.int(-1_000_000, 1_000_000);
      case 1: return (this.rand() - 0.5) * 10 ** this.int(-120, 120) || 1;
      case 2: return Number((this.rand() * 1000).toFixed(this.int(0, 6)));
      default: return this.pick([0, 1, -1, Number.MAX_SAFE_INTEGER, 1e-130, 9e125]);
    }
  }
  value(depth: number): AttributeValue {
    const k = this.int(0, depth >= 3 ? 3 : 5);
    switch (k) {
      case 0: return this.number();
      case 1: return this.string();
      case 2: return this.rand() < 0.5;
      case 3: return null;
      case 4: return Array.from({ length: this.int(0, 4) }, () => this.value(depth + 1));
      default: {
        const o: Record<string, AttributeValue> = {};
        for (let i = this.int(0, 4); i > 0; i--) o[this.name()] = this.value(depth + 1);
        return o;
      }
    }
  }
  attributes(): Record<string, AttributeValue> {
    const o: Record<string, AttributeValue> = {};
    for (let i = this.int(1, 8); i > 0; i--) o[this.name()] = this.value(0);
    return o;
  }
}

describe('decodeTelemetry: property — random valid readings round-trip', () => {
  it('decoded attributes deep-equal the input, ts survives every form, sizeBytes > 0', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const g = new Gen(mulberry32(seed));
      const count = g.int(1, 5);
      const expected: { ts: number; attributes: Record<string, AttributeValue> }[] = [];
      const entries: unknown[] = [];
      for (let i = 0; i < count; i++) {
        const attributes = g.attributes();
        // Only a lone reading may leave ts out (it gets the receive time); array readings need their own.
        const tsForm = count === 1 ? g.int(0, 2) : g.int(1, 2);
        const ts = NOW - g.int(0, 10 ** 9);
        const tsField = tsForm === 0 ? {} : { ts: tsForm === 1 ? ts : new Date(ts).toISOString() };
        expected.push({ ts: tsForm === 0 ? NOW : ts, attributes });
        entries.push(g.rand() < 0.5 ? { ...tsField, ...attributes } : { ...tsField, values: attributes });
      }
      const payload = count === 1 && g.rand() < 0.5 ? entries[0] : entries;
      const result = decode(payload);
      if (!result.ok) throw new Error(`seed ${seed}: ${result.reason}: ${result.message}\n${JSON.stringify(payload)}`);
      expect(result.readings.map((r) => ({ ts: r.ts, attributes: r.attributes })), `seed ${seed}`).toEqual(expected);
      for (const r of result.readings) {
        expect(r.deviceId).toBe(DEVICE);
        expect(r.receivedAt).toBe(NOW);
        expect(r.sizeBytes).toBeGreaterThan(0);
      }
    }
  });

  it('sizeBytes grows with the payload: adding an attribute or lengthening a string never shrinks it', () => {
    for (let seed = 1000; seed < 1200; seed++) {
      const g = new Gen(mulberry32(seed));
      const attributes = g.attributes();
      const base = ok({ ts: NOW, ...attributes })[0] as Reading;
      const extraName = `x${g.name()}`.slice(0, 64);
      const withExtra = ok({ ts: NOW, ...attributes, [extraName]: g.value(0) })[0] as Reading;
      expect(withExtra.sizeBytes, `seed ${seed}`).toBeGreaterThan(base.sizeBytes);
      const n = g.int(0, 500);
      const short = ok({ ts: NOW, ...attributes, [extraName]: 'y'.repeat(n) })[0] as Reading;
      const long = ok({ ts: NOW, ...attributes, [extraName]: 'y'.repeat(n + g.int(1, 500)) })[0] as Reading;
      expect(long.sizeBytes, `seed ${seed}`).toBeGreaterThan(short.sizeBytes);
      // Roughly proportional: a string value's bytes are all counted.
      expect(long.sizeBytes - short.sizeBytes).toBe(Buffer.byteLength(long.attributes[extraName] as string) - n);
    }
  });

  it('the estimate covers the JSON size of the attributes within a small constant factor', () => {
    for (let seed = 2000; seed < 2200; seed++) {
      const g = new Gen(mulberry32(seed));
      const attributes = g.attributes();
      const r = ok(attributes)[0] as Reading;
      const jsonBytes = Buffer.byteLength(JSON.stringify(attributes));
      expect(r.sizeBytes, `seed ${seed}`).toBeGreaterThan(jsonBytes / 3);
      expect(r.sizeBytes, `seed ${seed}`).toBeLessThan(jsonBytes * 8 + 200);
    }
  });
});
