// The hand-off of request bodies from the broker's thread to the store worker without waking the
// worker for each one. A message between threads wakes the receiving thread (a system call and, on
// a virtual machine, an interrupt to the other core): about 35 µs of the sender's time when the
// receiver sleeps, against 4 µs when it is awake (bench/README.md, "The hand-off ring"). Under load
// the worker wakes anyway, for each answer of DynamoDB, so bodies wait in this ring (a
// single-producer, single-consumer byte ring over a SharedArrayBuffer) and the worker takes them
// whenever it is awake. It is woken only when it sleeps with nothing in flight ("parked"), or when
// it has not taken anything for a millisecond (`createRingDoorbell`).
//
// Layout: a control block of Int32 slots, then the data. A record is [length, id, body...] padded
// to 8 bytes; a length of -1 sends the reader back to the start. The writer publishes a record by
// storing HEAD after writing it, the reader frees it by storing TAIL after copying it: both with
// Atomics (sequentially consistent), which orders the plain reads and writes of the data.
const HEAD = 0;
const TAIL = 1;
/** 1 while the reader has nothing in flight and may be asleep: the writer must wake it. */
const PARKED = 2;
/** How many times the reader took records: the writer sees whether it is still taking them. */
const TAKES = 3;
const CONTROL_BYTES = 64;
const RECORD_HEADER = 8;
const WRAP = -1;

const align8 = (n: number): number => (n + 7) & ~7;

export class RequestRing {
  readonly shared: SharedArrayBuffer;
  private readonly control: Int32Array;
  private readonly words: Int32Array;
  private readonly data: Buffer;
  private readonly capacity: number;
  /** The largest body a record may hold; larger ones go by message. */
  readonly maxBodyBytes: number;

  /** A new ring of `capacity` data bytes (a multiple of 8), or one over a ring's `shared` buffer (the other thread). */
  constructor(capacityOrShared: number | SharedArrayBuffer) {
    const fresh = typeof capacityOrShared === 'number';
    this.shared = fresh ? new SharedArrayBuffer(CONTROL_BYTES + align8(capacityOrShared)) : capacityOrShared;
    this.capacity = this.shared.byteLength - CONTROL_BYTES;
    this.control = new Int32Array(this.shared, 0, CONTROL_BYTES / 4);
    this.words = new Int32Array(this.shared, CONTROL_BYTES, this.capacity / 4);
    this.data = Buffer.from(this.shared, CONTROL_BYTES, this.capacity);
    this.maxBodyBytes = Math.floor(this.capacity / 4);
    // A new reader sleeps until woken: the first record rings.
    if (fresh) Atomics.store(this.control, PARKED, 1);
  }

  // --- writer side -------------------------------------------------------------------------------

  /** Writes a record; false (nothing written) when the ring has no room for it. */
  push(id: number, body: string): boolean {
    const length = Buffer.byteLength(body, 'utf8');
    if (length > this.maxBodyBytes) return false;
    const need = RECORD_HEADER + align8(length);
    const head = Atomics.load(this.control, HEAD);
    const tail = Atomics.load(this.control, TAIL);
    // Never fill up to the tail: head === tail means empty.
    let at = head;
    if (head >= tail) {
      if (need > this.capacity - head - (tail === 0 ? RECORD_HEADER : 0)) {
        if (need > tail - RECORD_HEADER) return false;
        this.words[head >> 2] = WRAP;
        at = 0;
      }
    } else if (need > tail - head - RECORD_HEADER) return false;
    this.words[at >> 2] = length;
    this.words[(at >> 2) + 1] = id;
    this.data.write(body, at + RECORD_HEADER, length, 'utf8');
    Atomics.store(this.control, HEAD, (at + need) % this.capacity);
    return true;
  }

  /** Whether the reader was parked; it is not any more (the caller wakes it). */
  unpark(): boolean {
    return Atomics.compareExchange(this.control, PARKED, 1, 0) === 1;
  }

  /** How many times the reader has taken records (compare two readings). */
  takes(): number {
    return Atomics.load(this.control, TAKES);
  }

  isEmpty(): boolean {
    return Atomics.load(this.control, HEAD) === Atomics.load(this.control, TAIL);
  }

  // --- reader side -------------------------------------------------------------------------------

  /** Takes every record written so far, in order, as copies (the ring's room is freed at once). */
  takeAll(each: (id: number, body: Buffer) => void): number {
    const head = Atomics.load(this.control, HEAD);
    let tail = Atomics.load(this.control, TAIL);
    let taken = 0;
    while (tail !== head) {
      const length = this.words[tail >> 2] as number;
      if (length === WRAP) {
        tail = 0;
        continue;
      }
      const id = this.words[(tail >> 2) + 1] as number;
      const body = Buffer.allocUnsafe(length);
      this.data.copy(body, 0, tail + RECORD_HEADER, tail + RECORD_HEADER + length);
      tail = (tail + RECORD_HEADER + align8(length)) % this.capacity;
      Atomics.store(this.control, TAIL, tail);
      taken++;
      each(id, body);
    }
    if (taken > 0) Atomics.add(this.control, TAKES, 1);
    return taken;
  }

  /**
   * The reader has nothing in flight and may go to sleep: the writer's next record wakes it. False
   * when records arrived meanwhile (take them: nobody will ring for them).
   */
  park(): boolean {
    Atomics.store(this.control, PARKED, 1);
    if (Atomics.load(this.control, HEAD) === Atomics.load(this.control, TAIL)) return true;
    Atomics.store(this.control, PARKED, 0);
    return false;
  }
}

/** How long a record may wait for a reader that is awake but has not taken anything. */
export const RING_WAKE_AFTER_MS = 1;

/**
 * The writer's side of waking: `pushed()` after each record wakes a parked reader at once, else
 * checks a millisecond later that the reader took something meanwhile and wakes it if not.
 */
export function createRingDoorbell(ring: RequestRing, wake: () => void): { pushed(): void; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  let takesWhenArmed = 0;
  const check = (): void => {
    timer = undefined;
    if (ring.isEmpty()) return;
    if (ring.takes() !== takesWhenArmed) return arm();
    ring.unpark();
    wake();
  };
  const arm = (): void => {
    takesWhenArmed = ring.takes();
    timer = setTimeout(check, RING_WAKE_AFTER_MS);
  };
  return {
    pushed() {
      if (ring.unpark()) {
        wake();
        return;
      }
      if (timer === undefined) arm();
    },
    cancel() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
