// GET /dead-letters?limit=&device=: the newest dead-lettered messages (for the console and curl),
// with the payload decoded when it is short text. A Scan: the dead-letter table is small by nature.
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { DeadLetterRecord } from '../ingest/dead-letter.ts';
import { parseOr400, queryObject, sendJson } from './route.ts';
import type { Route } from './route.ts';

const MAX_SCANNED = 10_000;

export function deadLetterRoutes(doc: DynamoDBDocumentClient, tableName: string): Route[] {
  return [
    {
      method: 'GET',
      path: /^\/dead-letters$/,
      async handle({ res, url }) {
        const q = parseOr400(
          z.strictObject({
            limit: z.string().regex(/^\d{1,4}$/, 'integer 1-1000').transform(Number).refine((n) => n >= 1 && n <= 1000, 'integer 1-1000').optional(),
            device: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'a device id').optional(),
          }),
          queryObject(url),
        );
        const records: DeadLetterRecord[] = [];
        let start: Record<string, unknown> | undefined;
        let scanned = 0;
        do {
          const page = await doc.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start }));
          scanned += page.ScannedCount ?? 0;
          for (const r of (page.Items ?? []) as DeadLetterRecord[]) if (q.device === undefined || r.deviceId === q.device) records.push(r);
          start = page.LastEvaluatedKey;
        } while (start && scanned < MAX_SCANNED);
        records.sort((a, b) => b.id.localeCompare(a.id));
        const items = records.slice(0, q.limit ?? 100).map((r) => {
          const payload = Buffer.from(r.base64OriginalPayload, 'base64');
          return { ...r, payloadText: payload.length <= 4096 && !payload.includes(0) ? payload.toString('utf8') : undefined };
        });
        sendJson(res, 200, { count: items.length, items, ...(start ? { truncated: true } : {}) });
      },
    },
  ];
}
