// The packet framer follows MQTT packet boundaries across arbitrary chunking and refuses a packet
// from its remaining-length header alone; property-style checks over seeded random splits.
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../simulator/prng.ts';
import { PacketFramer } from '../../src/broker/limits/packet-framer.ts';
import { connectPacket, publishPacket, remainingLength } from '../helpers/mqtt-raw.ts';

function feedInChunks(framer: PacketFramer, data: Buffer, seed: number): ReturnType<PacketFramer['feed']> {
  const rnd = mulberry32(seed);
  for (let i = 0; i < data.length; ) {
    const n = 1 + Math.floor(rnd() * 40);
    const verdict = framer.feed(data.subarray(i, i + n));
    if (!verdict.ok) return verdict;
    i += n;
  }
  return { ok: true };
}

describe('PacketFramer', () => {
  it('accepts a stream of valid packets however it is split, and ends at a packet boundary', () => {
    const stream = Buffer.concat([
      connectPacket({ clientId: 'a' }),
      ...Array.from({ length: 50 }, (_, i) => publishPacket('devices/a/telemetry', 'x'.repeat(i * 37), 1, i + 1)),
      Buffer.from([0xc0, 0x00]),
    ]);
    for (let seed = 1; seed <= 200; seed++) {
      const framer = new PacketFramer(4096, 1024);
      expect(feedInChunks(framer, stream, seed)).toEqual({ ok: true });
      expect(framer.pendingBodyBytes).toBe(0);
    }
  });

  it('refuses a packet announcing more than the limit from its header, before the body', () => {
    const framer = new PacketFramer(1000, 1000);
    expect(framer.feed(connectPacket({ clientId: 'a' }))).toEqual({ ok: true });
    expect(framer.feed(Buffer.concat([Buffer.from([0x30]), remainingLength(1001)]))).toEqual({ ok: false, reason: 'packet_bytes' });
    const exact = new PacketFramer(1000, 1000);
    exact.feed(connectPacket({ clientId: 'a' }));
    expect(exact.feed(Buffer.concat([Buffer.from([0x30]), remainingLength(1000)]))).toEqual({ ok: true });
    expect(exact.pendingBodyBytes).toBe(1000);
  });

  it('applies the smaller first-packet limit to CONNECT only', () => {
    expect(new PacketFramer(10_000, 100).feed(Buffer.concat([Buffer.from([0x10]), remainingLength(101)]))).toEqual({ ok: false, reason: 'packet_bytes' });
  });

  it('refuses a remaining length of more than four bytes as malformed', () => {
    expect(new PacketFramer(1 << 30, 1 << 30).feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toEqual({ ok: false, reason: 'malformed' });
  });

  it.each([[3, true], [4, true], [5, true], [6, false], [0, false], [2, false]])('protocol level %i in the first CONNECT: accepted %s', (level, ok) => {
    const packet = connectPacket({ clientId: 'a', level });
    for (let seed = 1; seed <= 20; seed++) {
      const verdict = feedInChunks(new PacketFramer(4096, 1024), packet, seed);
      expect(verdict).toEqual(ok ? { ok: true } : { ok: false, reason: 'protocol_level' });
    }
  });
});
