// toRecord: a dead-letter record always fits a DynamoDB item (400 KB); the payload is kept whole up
// to MAX_INLINE_PAYLOAD_BYTES, beyond that as a preview plus its exact size and SHA-256.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_INLINE_PAYLOAD_BYTES, PAYLOAD_PREVIEW_BYTES, toRecord } from '../../src/ingest/dead-letter-record.ts';
import type { DeadLetterInput } from '../../src/ingest/dead-letter-record.ts';

const ITEM_LIMIT_BYTES = 400 * 1024;

/** DynamoDB's item size: attribute names plus values (strings in UTF-8, numbers up to 21 bytes). */
function itemSizeBytes(item: Record<string, unknown>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    size += Buffer.byteLength(name);
    if (typeof value === 'string') size += Buffer.byteLength(value);
    else if (typeof value === 'number') size += 21;
    else size += 1; // boolean, null
  }
  return size;
}

function input(payload: Buffer, overrides: Partial<DeadLetterInput> = {}): DeadLetterInput {
  const deviceId = 'd'.repeat(128);
  return {
    deviceId,
    topic: `devices/${deviceId}/telemetry`,
    clientId: 'c'.repeat(65_535),
    reason: 'malformed_json',
    errorMessage: 'é'.repeat(100_000),
    payload,
    receivedAt: 1_732_480_000_123,
    qos: 1,
    ...overrides,
  };
}

describe('toRecord', () => {
  it('keeps a payload of exactly MAX_INLINE_PAYLOAD_BYTES whole, and the worst-case record fits an item', () => {
    const payload = Buffer.alloc(MAX_INLINE_PAYLOAD_BYTES, 0xff);
    const r = toRecord(input(payload), 30);
    expect(r.payloadTruncated).toBe(false);
    if (r.payloadTruncated) return;
    expect(Buffer.from(r.base64OriginalPayload, 'base64').equals(payload)).toBe(true);
    expect(r.payloadSizeBytes).toBe(MAX_INLINE_PAYLOAD_BYTES);
    expect(itemSizeBytes({ ...r })).toBeLessThan(ITEM_LIMIT_BYTES);
    // Long client ids and error messages are cut, so they cannot push the record over the limit.
    expect(r.clientId?.length).toBe(257);
    expect(r.errorMessage.length).toBe(1025);
  });

  it('keeps one byte more as a preview of PAYLOAD_PREVIEW_BYTES plus the exact size and SHA-256', () => {
    const payload = Buffer.alloc(MAX_INLINE_PAYLOAD_BYTES + 1, 0x41);
    payload.write('head', 0);
    const r = toRecord(input(payload), undefined);
    expect(r.payloadTruncated).toBe(true);
    if (!r.payloadTruncated) return;
    expect('base64OriginalPayload' in r).toBe(false);
    expect(Buffer.from(r.base64PayloadPreview, 'base64').equals(payload.subarray(0, PAYLOAD_PREVIEW_BYTES))).toBe(true);
    expect(r.payloadSizeBytes).toBe(MAX_INLINE_PAYLOAD_BYTES + 1);
    expect(r.payloadSha256).toBe(createHash('sha256').update(payload).digest('hex'));
    expect(itemSizeBytes({ ...r })).toBeLessThan(8 * 1024);
    expect('expiresAt' in r).toBe(false);
  });

  it('hashes a payload given as a view into a larger buffer by its own bytes only', () => {
    const big = Buffer.from('xxxxPAYLOADyyyy');
    const view = big.subarray(4, 11);
    const r = toRecord(input(view, { clientId: null }), undefined);
    expect(r.payloadSha256).toBe(createHash('sha256').update('PAYLOAD').digest('hex'));
    expect(r.clientId).toBeNull();
    expect(r.payloadSizeBytes).toBe(7);
  });
});
