// mqtt-packet's parser keeps a connection's unread bytes in a `bl` BufferList and reads every
// header field through it: the fixed header byte, each remaining-length byte, the topic's length,
// the topic, the message id. bl answers each of those reads by first cutting a new Buffer view of
// the bytes (`this.slice(offset, offset + width)[method](0)`), so a PUBLISH cost six Buffer objects
// besides its payload: about 700 bytes of garbage per reading on the broker thread and ~4 % of its
// time (bench/README.md, "Hot path, eighth round"). This reads the field in place when it lies in
// the list's first buffer (nearly always: the parser consumes each packet as it finishes it) and
// leaves everything else to bl, so the results, and the errors, are bl's own.
import { requireFromMqttPacket } from './quiet-debug.ts';

const INSTALLED = Symbol.for('iot-ingest.buffer-list-reads');

/** bl's fixed-width reads: method name and width in bytes. */
const READS: readonly (readonly [string, number])[] = [
  ['readUInt8', 1], ['readInt8', 1],
  ['readUInt16BE', 2], ['readUInt16LE', 2], ['readInt16BE', 2], ['readInt16LE', 2],
  ['readUInt32BE', 4], ['readUInt32LE', 4], ['readInt32BE', 4], ['readInt32LE', 4],
  ['readFloatBE', 4], ['readFloatLE', 4],
  ['readDoubleBE', 8], ['readDoubleLE', 8],
];

interface BufferListLike {
  _bufs: Buffer[];
}
type Proto = Record<string | symbol, unknown>;

/** Puts in-place reads on `proto` (a bl BufferList prototype); says whether it did. */
function installInPlaceReads(proto: Proto): boolean {
  if (proto[INSTALLED] === true) return false;
  for (const [method, width] of READS) {
    const original = proto[method] as ((this: BufferListLike, offset?: number) => number) | undefined;
    if (typeof original !== 'function') continue;
    proto[method] = function (this: BufferListLike, offset = 0): number {
      const first = this._bufs[0];
      if (first !== undefined && Number.isInteger(offset) && offset >= 0 && offset + width <= first.length) {
        return (first as unknown as Record<string, (o: number) => number>)[method]!(offset);
      }
      return original.call(this, offset);
    };
  }
  const toString = proto.toString as (this: BufferListLike, encoding?: BufferEncoding, start?: number, end?: number) => string;
  proto.toString = function (this: BufferListLike, encoding?: BufferEncoding, start?: number, end?: number): string {
    const first = this._bufs[0];
    if (first !== undefined && Number.isInteger(start) && Number.isInteger(end) && (start as number) >= 0 && (end as number) >= (start as number) && (end as number) <= first.length) {
      return first.toString(encoding, start, end);
    }
    return toString.call(this, encoding, start, end);
  };
  proto[INSTALLED] = true;
  return true;
}

export type BufferListReadsState = 'installed' | 'already-installed' | 'unavailable';

/**
 * Installs the in-place reads on the bl that aedes' mqtt-packet uses (its BufferList and the
 * stream class that copied BufferList's methods when it loaded). Never throws: a module layout it
 * does not know leaves bl as it was.
 */
export function installBufferListReads(): BufferListReadsState {
  let protos: Proto[];
  try {
    const bl = requireFromMqttPacket()('bl') as { prototype: Proto; BufferList?: { prototype: Proto } };
    protos = [bl.prototype, bl.BufferList?.prototype].filter((p): p is Proto => p !== undefined && typeof p._isBufferList === 'function');
  } catch {
    return 'unavailable';
  }
  if (protos.length === 0) return 'unavailable';
  let changed = false;
  for (const proto of protos) changed = installInPlaceReads(proto) || changed;
  return changed ? 'installed' : 'already-installed';
}

export const bufferListReads: BufferListReadsState = installBufferListReads();
