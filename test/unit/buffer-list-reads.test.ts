// In-place header reads on the bl BufferList that aedes' mqtt-packet parses with
// (src/broker/buffer-list-reads.ts): the same values and errors as bl's own reads over any split of
// the bytes into buffers, and a PUBLISH parsed without a Buffer view per header field.
import { describe, expect, it } from 'vitest';
import { bufferListReads, installBufferListReads } from '../../src/broker/buffer-list-reads.ts';
import { requireFromMqttPacket } from '../../src/broker/quiet-debug.ts';

interface BufferListLike {
  length: number;
  [method: string]: unknown;
}
const requirePacket = requireFromMqttPacket();
const BufferListStream = requirePacket('bl') as new (bufs?: Buffer[]) => BufferListLike;
const mqttPacket = requirePacket('mqtt-packet') as { parser(): NodeJS.EventEmitter & { parse(b: Buffer): number }; generate(p: object): Buffer };

const READS: readonly (readonly [string, number])[] = [
  ['readUInt8', 1], ['readInt8', 1], ['readUInt16BE', 2], ['readUInt16LE', 2], ['readInt16BE', 2], ['readInt16LE', 2],
  ['readUInt32BE', 4], ['readUInt32LE', 4], ['readInt32BE', 4], ['readInt32LE', 4], ['readFloatBE', 4], ['readFloatLE', 4], ['readDoubleBE', 8], ['readDoubleLE', 8],
];

/** A seeded generator, so a failure can be reproduced. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function outcome(f: () => unknown): unknown {
  try {
    return f();
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
}

describe('bl reads in place', () => {
  it('is installed on the bl that mqtt-packet uses, once', () => {
    expect(bufferListReads).toBe('installed');
    expect(installBufferListReads()).toBe('already-installed');
  });

  it('reads what bl reads over random splits of random bytes: every width, every offset, in and out of range', () => {
    const random = rng(7);
    for (let round = 0; round < 300; round++) {
      const total = Math.floor(random() * 40);
      const bytes = Buffer.from(Array.from({ length: total }, () => Math.floor(random() * 256)));
      // Split into 1-4 buffers at random points (some empty).
      const cuts = Array.from({ length: Math.floor(random() * 4) }, () => Math.floor(random() * (total + 1))).sort((a, b) => a - b);
      const parts: Buffer[] = [];
      let at = 0;
      for (const cut of [...cuts, total]) {
        parts.push(bytes.subarray(at, cut));
        at = cut;
      }
      const list = new BufferListStream(parts);
      expect(list.length).toBe(total);
      for (const [method, width] of READS) {
        for (let offset = -2; offset <= total + 2; offset++) {
          const expected = offset >= 0 && offset + width <= total ? (bytes as unknown as Record<string, (o: number) => number>)[method]!(offset) : 'out of range';
          const got = outcome(() => (list[method] as (o: number) => number)(offset));
          if (expected === 'out of range') {
            // bl's answer beyond the end (an error, or a read of what is there from a negative offset): unchanged.
            if (offset >= 0) expect([method, offset, got]).toEqual([method, offset, 'throws RangeError']);
          } else {
            expect([method, offset, got]).toEqual([method, offset, expected]);
          }
        }
      }
      for (let start = 0; start <= total; start++) {
        for (let end = start; end <= total + 1; end++) {
          expect((list.toString as (e: string, s: number, e2: number) => string)('latin1', start, end)).toBe(bytes.toString('latin1', start, Math.min(end, total)));
        }
      }
      expect((list.toString as (e?: string) => string)('hex')).toBe(bytes.toString('hex'));
    }
  });

  it('parses a run of PUBLISH packets with no Buffer view per header field', () => {
    const packets = Array.from({ length: 50 }, (_, i) => mqttPacket.generate({ cmd: 'publish', topic: `devices/d-${i}/telemetry`, qos: 1, messageId: i + 1, retain: false, dup: false, payload: Buffer.from(`{"ts":${i},"t":${'x'.repeat(150)}}`) }));
    const parser = mqttPacket.parser();
    const got: { topic: string; messageId: number; payload: string }[] = [];
    parser.on('packet', (p: { topic: string; messageId: number; payload: Buffer }) => got.push({ topic: p.topic, messageId: p.messageId, payload: p.payload.toString() }));
    const slice = Buffer.prototype.slice;
    let views = 0;
    Buffer.prototype.slice = function (this: Buffer, ...args: Parameters<Buffer['slice']>) {
      views++;
      return slice.apply(this, args);
    };
    try {
      parser.parse(Buffer.concat(packets));
    } finally {
      Buffer.prototype.slice = slice;
    }
    expect(got).toHaveLength(50);
    expect(got[49]).toEqual({ topic: 'devices/d-49/telemetry', messageId: 50, payload: `{"ts":49,"t":${'x'.repeat(150)}}` });
    // Per packet: the payload, and the parser's three consumes (header byte, length, body; the last
    // packet's body takes the whole buffer, no view). bl's own reads add five more per packet.
    expect(views).toBe(4 * 50 - 1);
  });
});
