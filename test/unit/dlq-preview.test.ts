import { describe, expect, it } from 'vitest';
import { payloadText } from '../../src/cli/dlq-records.ts';
import { replayRecord } from '../../src/cli/dlq-replay.ts';
import type { ReplayOptions } from '../../src/cli/dlq-replay.ts';
import type { DeadLetterPreviewRecord } from '../../src/ingest/dead-letter.ts';

const preview: DeadLetterPreviewRecord = {
  id: 'r1',
  deviceId: 'd1',
  topic: 'devices/d1/telemetry',
  clientId: 'd1',
  reason: 'payload_too_large',
  errorMessage: 'payload of 1048576 bytes exceeds 131072',
  payloadSizeBytes: 1_048_576,
  payloadSha256: 'ab'.repeat(32),
  receivedAt: 1_732_480_000_000,
  qos: 1,
  base64PayloadPreview: Buffer.from('{"ts":1,"a":"xxxx').toString('base64'),
  payloadTruncated: true,
} as DeadLetterPreviewRecord;

describe('dead-letter records kept as a preview', () => {
  it('list shows the preview text', () => {
    expect(payloadText(preview)).toBe('{"ts":1,"a":"xxxx');
  });
  it('replay reports them as not replayable and touches no table', async () => {
    // A doc client that fails on any call: the record must be answered without one.
    const doc = { send: () => Promise.reject(new Error('no table call expected')) } as unknown as ReplayOptions['doc'];
    const out = await replayRecord(preview, { doc, tableName: 't', dlqTableName: 'd', limits: {} as ReplayOptions['limits'], retentionDays: undefined, dryRun: false });
    expect(out).toMatchObject({ id: 'r1', deviceId: 'd1', outcome: 'rejected', reason: 'payload_truncated' });
  });
});
