// The hand-off ring between the broker's thread and the store worker (src/storage/request-ring.ts):
// records come out whole, once and in order through any number of wrap-arounds; a full ring or a
// body too large refuses the record (the caller sends it by message); parking and the doorbell
// wake a sleeping reader exactly when it needs waking. Both ends run here over one shared buffer
// (the writer's object and a reader's object built from `shared`, as the worker builds its own);
// test/worker-store.test.ts runs the same ring across real threads.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RING_WAKE_AFTER_MS, RequestRing, createRingDoorbell } from '../../src/storage/request-ring.ts';

/** A deterministic body of `length` characters, some of them outside ASCII (2 and 3 UTF-8 bytes). */
function body(seed: number, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) {
    const k = (seed * 31 + i * 7) % 97;
    s += k === 0 ? 'é' : k === 1 ? '€' : String.fromCharCode(32 + (k % 90));
  }
  return s;
}

function takeAll(reader: RequestRing): { id: number; text: string }[] {
  const out: { id: number; text: string }[] = [];
  reader.takeAll((id, bytes) => out.push({ id, text: bytes.toString('utf8') }));
  return out;
}

describe('request ring', () => {
  it('hands over every record whole, once and in order, through many wrap-arounds', () => {
    const writer = new RequestRing(1024);
    const reader = new RequestRing(writer.shared);
    const sent: { id: number; text: string }[] = [];
    const received: { id: number; text: string }[] = [];
    let refused = 0;
    let id = 0;
    for (let round = 0; round < 400; round++) {
      // A few records per round, then the reader takes some rounds and not others.
      for (let k = 0; k < 1 + (round % 4); k++) {
        const text = body(id, (id * 37) % 200);
        if (writer.push(id, text)) sent.push({ id, text });
        else refused++;
        id++;
      }
      if (round % 3 !== 1) received.push(...takeAll(reader));
    }
    received.push(...takeAll(reader));
    expect(received).toEqual(sent);
    expect(sent.length).toBeGreaterThan(500);
    // The ring was full at times (the writer then sends by message)...
    expect(refused).toBeGreaterThan(0);
    // ...and empty at the end.
    expect(writer.isEmpty()).toBe(true);
    expect(takeAll(reader)).toEqual([]);
  });

  it('refuses a body larger than a quarter of the ring, and takes a record that fills it to the end', () => {
    const writer = new RequestRing(256);
    const reader = new RequestRing(writer.shared);
    expect(writer.maxBodyBytes).toBe(64);
    expect(writer.push(1, 'x'.repeat(65))).toBe(false);
    expect(writer.push(1, '€'.repeat(22))).toBe(false); // 22 characters, 66 bytes
    expect(writer.isEmpty()).toBe(true);
    // Records of 8 + 64 bytes: three fit (216 of 256), the fourth would reach the tail.
    for (let i = 0; i < 3; i++) expect(writer.push(i, String(i).repeat(64))).toBe(true);
    expect(writer.push(3, '3'.repeat(64))).toBe(false);
    expect(takeAll(reader).map((r) => r.id)).toEqual([0, 1, 2]);
    // Head at 216: a 32-byte record (8 + 24) ends exactly at 256 and the head goes back to 0.
    expect(writer.push(4, 'a'.repeat(24))).toBe(true);
    expect(writer.isEmpty()).toBe(false);
    expect(writer.push(5, 'b'.repeat(64))).toBe(true);
    expect(takeAll(reader)).toEqual([
      { id: 4, text: 'a'.repeat(24) },
      { id: 5, text: 'b'.repeat(64) },
    ]);
  });

  it('never lets the head reach the tail: a record that would fill the ring exactly is refused', () => {
    const writer = new RequestRing(256);
    const reader = new RequestRing(writer.shared);
    for (let i = 0; i < 3; i++) expect(writer.push(i, String(i).repeat(64))).toBe(true);
    // 216 + 8 + 32 = 256 with the tail at 0: the head would wrap onto the tail ("empty").
    expect(writer.push(3, 'z'.repeat(32))).toBe(false);
    expect(writer.isEmpty()).toBe(false);
    expect(takeAll(reader).map((r) => r.id)).toEqual([0, 1, 2]);
  });

  it('a new ring is parked; parking fails while records wait', () => {
    const writer = new RequestRing(256);
    const reader = new RequestRing(writer.shared);
    expect(writer.unpark()).toBe(true);
    expect(writer.unpark()).toBe(false);
    expect(reader.park()).toBe(true);
    writer.push(1, 'a');
    expect(writer.unpark()).toBe(true);
    expect(reader.park()).toBe(false); // a record waits: take it, nobody rings for it
    expect(writer.unpark()).toBe(false);
    takeAll(reader);
    expect(reader.park()).toBe(true);
  });
});

describe('ring doorbell', () => {
  const cancels: (() => void)[] = [];
  afterEach(() => {
    for (const c of cancels.splice(0)) c();
  });

  it('wakes a parked reader at once, and only once for several records', () => {
    const writer = new RequestRing(1024);
    let wakes = 0;
    const bell = createRingDoorbell(writer, () => wakes++);
    cancels.push(bell.cancel);
    writer.push(1, 'a');
    bell.pushed();
    expect(wakes).toBe(1);
    writer.push(2, 'b');
    bell.pushed();
    expect(wakes).toBe(1);
  });

  it('does not wake a busy reader that keeps taking, and wakes one that stopped taking', () => {
    vi.useFakeTimers();
    try {
      const writer = new RequestRing(4096);
      const reader = new RequestRing(writer.shared);
      let wakes = 0;
      const bell = createRingDoorbell(writer, () => wakes++);
      cancels.push(bell.cancel);
      writer.unpark(); // the reader is busy (requests in flight): not parked
      writer.push(1, 'a');
      bell.pushed();
      takeAll(reader);
      writer.push(2, 'b');
      bell.pushed();
      // A record waits, but the reader took something since: it is awake, look again later.
      vi.advanceTimersByTime(RING_WAKE_AFTER_MS);
      expect(wakes).toBe(0);
      expect(takeAll(reader)).toEqual([{ id: 2, text: 'b' }]);
      vi.advanceTimersByTime(RING_WAKE_AFTER_MS * 5);
      expect(wakes).toBe(0);
      // It stops taking: the record waits out the delay, then the bell rings, once.
      writer.push(3, 'c');
      bell.pushed();
      vi.advanceTimersByTime(RING_WAKE_AFTER_MS - 0.5);
      expect(wakes).toBe(0);
      vi.advanceTimersByTime(RING_WAKE_AFTER_MS * 5);
      expect(wakes).toBe(1);
      expect(takeAll(reader)).toEqual([{ id: 3, text: 'c' }]);
    } finally {
      vi.useRealTimers();
    }
  });
});
