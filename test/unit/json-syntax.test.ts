// jsonSyntaxProblem must agree with JSON.parse on every input: it decides alone whether a payload
// is malformed_json, so a wrong "invalid" would dead-letter a good reading. Checked on named cases
// and on seeded random mutations of valid documents, both ways.
import { describe, expect, it } from 'vitest';
import { jsonSyntaxProblem } from '../../src/ingest/json-syntax.ts';
import { mulberry32 } from '../../simulator/prng.ts';

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const bytes = (text: string): Buffer => Buffer.from(text);

describe('jsonSyntaxProblem', () => {
  it('accepts every kind of JSON text, with whitespace and a byte order mark around it', () => {
    for (const text of ['{}', '[]', ' {"a": [1, -2.5e+3, 0, 0.1, 1E-7, true, false, null, "x\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9"]}\r\n\t', '"s"', '-0', '7', 'null', '[[[{}]]]', '{"a":{"b":{}}}', '"Zürich 東京 🌡\u2028"']) {
      expect(jsonSyntaxProblem(bytes(text)), text).toBeUndefined();
    }
    expect(jsonSyntaxProblem(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes('{"a":1}')]))).toBeUndefined();
    // Depth costs no call stack.
    expect(jsonSyntaxProblem(bytes('['.repeat(100_000) + ']'.repeat(100_000)))).toBeUndefined();
  });

  it('names the first wrong byte and its offset', () => {
    expect(jsonSyntaxProblem(Buffer.alloc(100_000, 0x7a))).toBe('unexpected byte 0x7a where a value belongs at byte 0');
    expect(jsonSyntaxProblem(bytes(`{${'z'.repeat(1000)}}`))).toBe('unexpected byte 0x7a where a property name belongs at byte 1');
    expect(jsonSyntaxProblem(bytes('{"ts": 17, "temperature": '))).toBe('the payload ends too early (where a value belongs, at byte 26)');
    expect(jsonSyntaxProblem(bytes(' \r\n'))).toBe('the payload is empty');
    expect(jsonSyntaxProblem(bytes('{"a": 01}'))).toBe("unexpected byte 0x31 where ',' or '}' belongs at byte 7");
    expect(jsonSyntaxProblem(bytes('{"a": "\t"}'))).toBe('unexpected byte 0x09 (a control character) in a string at byte 7');
    expect(jsonSyntaxProblem(bytes('[1,]'))).toBe('unexpected byte 0x5d where a value belongs at byte 3');
    expect(jsonSyntaxProblem(bytes('{"a":1} x'))).toBe('unexpected byte 0x78 after the JSON value at byte 8');
  });

  it('agrees with JSON.parse on 20,000 seeded mutations of valid documents', () => {
    const rand = mulberry32(20_241_124);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const value = (depth: number): unknown => {
      const r = rand();
      if (depth > 3 || r < 0.3) return pick([0, -1, 1.5, 2e-7, -0.25e10, 'a', 'é\\"x', '', true, false, null, 1234567890123456]);
      if (r < 0.65) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, (_, i) => [`k${i}`, value(depth + 1)]));
    };
    const alphabet = [...'{}[]",:.-+eE0123456789 \t\n\\/utrfalsnbx\u00e9\u0001'];
    let valid = 0;
    let invalid = 0;
    for (let n = 0; n < 20_000; n++) {
      const chars = [...JSON.stringify(value(0), null, rand() < 0.3 ? 1 : undefined)];
      for (let m = Math.floor(rand() * 3); m > 0; m--) {
        const at = Math.floor(rand() * (chars.length + 1));
        const op = rand();
        if (op < 0.34) chars.splice(at, 1);
        else if (op < 0.67) chars.splice(at, 0, pick(alphabet));
        else chars.splice(at, 1, pick(alphabet));
      }
      const text = chars.join('');
      const ok = parses(text);
      if (ok) valid++;
      else invalid++;
      expect(jsonSyntaxProblem(bytes(text)) === undefined, JSON.stringify(text)).toBe(ok);
    }
    // Both sides were exercised.
    expect(valid).toBeGreaterThan(2_000);
    expect(invalid).toBeGreaterThan(2_000);
  });
});
