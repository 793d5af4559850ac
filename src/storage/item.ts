// Maps a reading to its DynamoDB item: {deviceId, ts, receivedAt, ...attributes, expiresAt?}.
// Values stay native (the DocumentClient marshals nested objects to maps, arrays to lists).
import type { AttributeValue, Reading } from '../ingest/reading.ts';

export type TelemetryItem = Record<string, AttributeValue>;

const SECONDS_PER_DAY = 86_400;

export function toItem(reading: Reading, retentionDays: number | undefined): TelemetryItem {
  const item: TelemetryItem = {
    ...reading.attributes,
    deviceId: reading.deviceId,
    ts: reading.ts,
    receivedAt: reading.receivedAt,
  };
  if (retentionDays !== undefined) {
    item.expiresAt = Math.floor(reading.ts / 1000) + retentionDays * SECONDS_PER_DAY;
  }
  return item;
}

export { readingKey } from '../ingest/reading.ts';
