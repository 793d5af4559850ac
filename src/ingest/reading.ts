// The unit that flows through the pipeline: one sensor reading of one device.

/** Why a message was refused as invalid; label values of iot_ingest_invalid_messages_total. */
export const INVALID_REASONS = [
  'malformed_json',
  'invalid_shape',
  'payload_too_large',
  'too_many_readings',
  'too_many_attributes',
  'invalid_attribute_name',
  'reserved_attribute',
  'invalid_value',
  'inexact_number',
  'too_deep',
  'invalid_ts',
  'future_ts',
  'item_too_large',
  'empty_reading',
] as const;
export type InvalidReason = (typeof INVALID_REASONS)[number];

/** Reasons a dead-letter record is written: every invalid reason, plus a store-side rejection. */
export const DEAD_LETTER_REASONS = [...INVALID_REASONS, 'rejected_by_store'] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export type AttributeValue =
  | number
  | string
  | boolean
  | null
  | AttributeValue[]
  | { [name: string]: AttributeValue };

export interface Reading {
  readonly deviceId: string;
  /** Epoch milliseconds: the device's own timestamp, or the receive time when absent. */
  readonly ts: number;
  /** Epoch milliseconds at which the broker received the message. */
  readonly receivedAt: number;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** Approximate DynamoDB item size in bytes (used for the queue's byte bound). */
  readonly sizeBytes: number;
  /**
   * Set on a reading of the decoder's fast path (FlatReading in flat-decode.ts): its payload's
   * text, one flat JSON object whose values a store's encoder may copy as they stand.
   */
  readonly flatText?: string;
}

/** The identity of a reading: writing the same key again overwrites it. */
export function readingKey(deviceId: string, ts: number): string {
  return `${deviceId}\u0000${ts}`;
}
