// The rules a reading's parts obey, shared by the general decoder (decode.ts) and its fast path for
// flat readings (flat-decode.ts): reserved names, the server's share of an item's size, and how a
// timestamp is read and bounded.
import type { InvalidReason } from './reading.ts';

export const RESERVED_ATTRIBUTES: ReadonlySet<string> = new Set(['deviceId', 'ts', 'receivedAt', 'expiresAt']);
/** Matches [A-Za-z0-9_] but would set an object's prototype instead of an attribute. */
export const PROTO = '__proto__';
/** Bytes of the server's own attributes (deviceId excluded) in an item: ts, receivedAt, expiresAt. */
export const SERVER_ATTRIBUTES_BYTES = 60;
/** Bytes a number takes in an item (DynamoDB: up to 21), and a boolean or null. */
export const NUMBER_BYTES = 21;
export const FLAG_BYTES = 1;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;
/** Timestamps before 2000-01-01 are taken for a unit mistake (epoch seconds) rather than stored. */
const MIN_TS_MS = 946_684_800_000;
const MAX_TS_MS = 8_640_000_000_000_000;

/** A reading refused, with its reason (thrown inside decoding, turned into a result at its edge). */
export class Invalid {
  constructor(
    readonly reason: InvalidReason,
    readonly message: string,
  ) {}
}

/** The reading's timestamp in epoch ms from its `ts` value (absent: the receive time); throws Invalid. */
export function decodeTs(raw: unknown, receivedAt: number, maxFutureSkewMs: number): number {
  let ts: number;
  if (raw === undefined) return receivedAt;
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) throw new Invalid('invalid_ts', `ts must be integer epoch milliseconds, got ${raw}`);
    ts = raw;
  } else if (typeof raw === 'string') {
    if (!ISO_8601.test(raw)) throw new Invalid('invalid_ts', `ts string must be ISO-8601 with a zone (e.g. 2024-11-24T20:26:40.123Z), got ${JSON.stringify(raw.slice(0, 40))}`);
    ts = Date.parse(raw);
    // Date.parse rolls impossible dates over (02-30 becomes 03-01): the day must survive the trip.
    const day = Number(raw.slice(8, 10));
    if (Number.isNaN(ts) || new Date(Date.UTC(Number(raw.slice(0, 4)), Number(raw.slice(5, 7)) - 1, day)).getUTCDate() !== day) {
      throw new Invalid('invalid_ts', `ts ${JSON.stringify(raw)} is not a valid date`);
    }
  } else {
    throw new Invalid('invalid_ts', `ts must be epoch milliseconds or an ISO-8601 string, got ${raw === null ? 'null' : typeof raw}`);
  }
  if (ts < MIN_TS_MS || ts > MAX_TS_MS) {
    throw new Invalid('invalid_ts', `ts ${ts} is out of range (epoch milliseconds after 2000-01-01; epoch seconds?)`);
  }
  if (ts > receivedAt + maxFutureSkewMs) {
    throw new Invalid('future_ts', `ts is ${ts - receivedAt} ms in the future, limit ${maxFutureSkewMs} ms`);
  }
  return ts;
}
