// Bulk provisioning: `devices import <csv>` for fleets of thousands. The CSV has a header whose
// first column is `deviceId`; the other columns become the device's attributes. Every row is
// checked before anything is written; ids already in the registry are skipped (so a rerun after a
// failure finishes the job), the rest are hashed on the libuv pool and written 25 at a time with
// BatchWriteItem (unprocessed items resent). Each chunk's secrets are handed out as soon as the
// chunk is stored, so an interrupted import still yields the secrets of what it stored.
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parse } from 'csv-parse/sync';
import pLimit from 'p-limit';
import { IngestError } from '../errors.ts';
import { resendLeftovers } from '../retry.ts';
import { isValidDeviceId, newDeviceItem } from './device-record.ts';
import type { DeviceAttributes } from './device-record.ts';
import type { DeviceRegistry } from './registry.ts';
import { DEFAULT_HASH_COST, generateSecret, hashSecret } from './secrets.ts';
import type { HashCost } from './secrets.ts';

export interface ImportRow {
  readonly deviceId: string;
  readonly attributes: DeviceAttributes;
}

const BATCH_WRITE_ITEMS = 25;
const MAX_ATTEMPTS = 10;
/** Hashes in flight: the libuv pool has 4 threads by default. */
const HASH_CONCURRENCY = 4;

/** Rows of a provisioning CSV; throws one error listing every bad line. */
export function parseImportCsv(text: string): ImportRow[] {
  let records: string[][];
  try {
    records = parse(text, { skip_empty_lines: true, trim: true, relax_column_count: false }) as string[][];
  } catch (err) {
    throw new IngestError('CONFIG_INVALID', `CSV is not valid: ${(err as Error).message}`, { cause: err });
  }
  const [header, ...rows] = records;
  if (!header || header[0] !== 'deviceId') throw new IngestError('CONFIG_INVALID', 'CSV must start with a header line whose first column is "deviceId" (e.g. deviceId,model,site)');
  const problems: string[] = [];
  const seen = new Set<string>();
  const out: ImportRow[] = [];
  rows.forEach((cells, i) => {
    const line = i + 2;
    const deviceId = cells[0] ?? '';
    if (!isValidDeviceId(deviceId)) problems.push(`line ${line}: device id "${deviceId}" is not 1-128 chars of [A-Za-z0-9_.:-]`);
    else if (seen.has(deviceId)) problems.push(`line ${line}: device id "${deviceId}" appears twice`);
    seen.add(deviceId);
    const attributes: DeviceAttributes = {};
    header.slice(1).forEach((name, j) => {
      const value = cells[j + 1];
      if (value !== undefined && value !== '') attributes[name] = value;
    });
    out.push({ deviceId, attributes });
  });
  if (problems.length > 0) {
    const shown = problems.slice(0, 20).join('\n  ');
    throw new IngestError('CONFIG_INVALID', `CSV has ${problems.length} bad line(s), nothing was imported:\n  ${shown}${problems.length > 20 ? '\n  ...' : ''}`);
  }
  return out;
}

export interface ImportProgress {
  readonly stored: number;
  readonly total: number;
}

export interface ImportResult {
  readonly stored: number;
  readonly skippedExisting: string[];
}

export interface ImportOptions {
  readonly cost?: HashCost;
  /** Called with each stored chunk's credentials, in order; the only place the secrets go. */
  readonly onStored: (credentials: { deviceId: string; secret: string }[]) => Promise<void> | void;
  readonly onProgress?: (p: ImportProgress) => void;
  readonly now?: () => number;
}

export async function importDevices(doc: DynamoDBDocumentClient, registry: DeviceRegistry, rows: readonly ImportRow[], options: ImportOptions): Promise<ImportResult> {
  const existing = await registry.getMany(rows.map((r) => r.deviceId));
  const fresh = rows.filter((r) => !existing.has(r.deviceId));
  const limit = pLimit(HASH_CONCURRENCY);
  const now = options.now ?? Date.now;
  let stored = 0;
  for (let i = 0; i < fresh.length; i += BATCH_WRITE_ITEMS) {
    const chunk = fresh.slice(i, i + BATCH_WRITE_ITEMS);
    const prepared = await Promise.all(
      chunk.map((row) =>
        limit(async () => {
          const secret = generateSecret();
          const hash = await hashSecret(secret, options.cost ?? DEFAULT_HASH_COST);
          return { row, secret, item: newDeviceItem(row.deviceId, hash, row.attributes, now()) };
        }),
      ),
    );
    await writeChunk(doc, registry.tableName, prepared.map((p) => p.item));
    stored += chunk.length;
    await options.onStored(prepared.map((p) => ({ deviceId: p.row.deviceId, secret: p.secret })));
    options.onProgress?.({ stored, total: fresh.length });
  }
  return { stored, skippedExisting: rows.filter((r) => existing.has(r.deviceId)).map((r) => r.deviceId) };
}

async function writeChunk(doc: DynamoDBDocumentClient, table: string, items: Record<string, unknown>[]): Promise<void> {
  type Request = { PutRequest: { Item: Record<string, unknown> } };
  await resendLeftovers<Request>(items.map((Item) => ({ PutRequest: { Item } })), async (requests) => {
    const out = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: [...requests] } }));
    return (out.UnprocessedItems?.[table] ?? []) as Request[];
  }, { maxAttempts: MAX_ATTEMPTS, what: `devices table "${table}": items` });
}
