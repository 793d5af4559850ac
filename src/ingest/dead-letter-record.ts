// The shape of one dead-letter record, after the AWS IoT rule error-action envelope. A payload small
// enough to fit a DynamoDB item (400 KB) is kept whole in base64; a larger one keeps a truncated
// preview plus its size and SHA-256, so the record is always writable and still identifies the
// message. Every record carries the payload's size and hash.
import { createHash, randomBytes } from 'node:crypto';
import type { DeadLetterReason } from './reading.ts';

/**
 * Largest payload kept whole: 256 KiB is 349,528 bytes of base64, which leaves about 60 KB of the
 * 400 KB item for the other attributes (each bounded below).
 */
export const MAX_INLINE_PAYLOAD_BYTES = 256 * 1024;
/** Bytes of an oversized payload kept as its preview. */
export const PAYLOAD_PREVIEW_BYTES = 1024;
const MAX_ERROR_MESSAGE_CHARS = 1024;
const MAX_CLIENT_ID_CHARS = 256;

interface DeadLetterRecordBase {
  readonly id: string;
  readonly deviceId: string;
  readonly topic: string;
  readonly clientId: string | null;
  readonly reason: DeadLetterReason;
  readonly errorMessage: string;
  readonly payloadSizeBytes: number;
  /** Hex SHA-256 of the whole original payload. */
  readonly payloadSha256: string;
  /** Epoch ms at which the broker received the message. */
  readonly receivedAt: number;
  readonly qos: number;
  readonly expiresAt?: number;
}

/** A record that keeps its whole payload (what `dlq list` and `dlq replay` read). */
export interface DeadLetterRecord extends DeadLetterRecordBase {
  readonly base64OriginalPayload: string;
  readonly payloadTruncated: false;
}

/** A record of a payload too large for an item: a preview, with size and hash; not replayable. */
export interface DeadLetterPreviewRecord extends DeadLetterRecordBase {
  /** The first PAYLOAD_PREVIEW_BYTES bytes of the payload, base64. */
  readonly base64PayloadPreview: string;
  readonly payloadTruncated: true;
}

export type AnyDeadLetterRecord = DeadLetterRecord | DeadLetterPreviewRecord;

export interface DeadLetterInput {
  readonly deviceId: string;
  readonly topic: string;
  readonly clientId: string | null;
  readonly reason: DeadLetterReason;
  readonly errorMessage: string;
  readonly payload: Uint8Array;
  readonly receivedAt: number;
  readonly qos: number;
}

export function toRecord(input: DeadLetterInput, retentionDays: number | undefined): AnyDeadLetterRecord {
  const payload = Buffer.from(input.payload.buffer, input.payload.byteOffset, input.payload.byteLength);
  const base = {
    id: `${input.receivedAt.toString().padStart(13, '0')}-${randomBytes(6).toString('hex')}`,
    deviceId: input.deviceId,
    topic: input.topic,
    clientId: input.clientId === null ? null : clip(input.clientId, MAX_CLIENT_ID_CHARS),
    reason: input.reason,
    errorMessage: clip(input.errorMessage, MAX_ERROR_MESSAGE_CHARS),
    payloadSizeBytes: payload.byteLength,
    payloadSha256: createHash('sha256').update(payload).digest('hex'),
    receivedAt: input.receivedAt,
    qos: input.qos,
    ...(retentionDays === undefined ? {} : { expiresAt: Math.floor(input.receivedAt / 1000) + retentionDays * 86_400 }),
  };
  if (payload.byteLength > MAX_INLINE_PAYLOAD_BYTES) {
    return { ...base, base64PayloadPreview: payload.subarray(0, PAYLOAD_PREVIEW_BYTES).toString('base64'), payloadTruncated: true };
  }
  return { ...base, base64OriginalPayload: payload.toString('base64'), payloadTruncated: false };
}

function clip(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}…`;
}
