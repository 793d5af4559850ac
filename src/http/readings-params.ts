// The read API's parameters (GET /devices/{deviceId}/readings?from=&to=&limit=&order=&cursor=),
// validated with zod as the config is: a client's mistake is a 400 that names each bad parameter,
// never a 502 or a stack trace. Times are epoch milliseconds up to 2^53 - 1 or ISO-8601; the cursor
// is the `next` value of a previous page and must lie inside [from, to].
import { z } from 'zod';
import { parseTelemetryTopic, telemetryTopic } from '../broker/topic.ts';
import { parseTime } from '../storage/readings-query.ts';

export const MAX_READINGS_LIMIT = 1000;
export const DEFAULT_READINGS_LIMIT = 100;
const DAY_MS = 86_400_000;

export interface ReadingsParams {
  readonly deviceId: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly limit: number;
  readonly newestFirst: boolean;
  readonly cursor: number | undefined;
}

export type ParamsResult = { ok: true; params: ReadingsParams } | { ok: false; problems: string[]; parameters: string[] };

const time = z
  .string()
  .transform((v, ctx) => {
    const t = parseTime(v);
    if (t === undefined) ctx.addIssue({ code: 'custom', message: `epoch milliseconds (0 to ${Number.MAX_SAFE_INTEGER}) or ISO-8601` });
    return t ?? 0;
  });

const querySchema = z
  .object({
    from: time.optional(),
    to: time.optional(),
    limit: z
      .string()
      .regex(/^\d{1,4}$/, `an integer from 1 to ${MAX_READINGS_LIMIT}`)
      .transform(Number)
      .pipe(z.number().min(1, `an integer from 1 to ${MAX_READINGS_LIMIT}`).max(MAX_READINGS_LIMIT, `an integer from 1 to ${MAX_READINGS_LIMIT}`))
      .optional(),
    order: z.enum(['asc', 'desc'], { error: 'asc or desc' }).optional(),
    cursor: z
      .string()
      .regex(/^\d{1,16}$/, 'the "next" value of a previous page')
      .transform(Number)
      .pipe(z.number().max(Number.MAX_SAFE_INTEGER, 'the "next" value of a previous page'))
      .optional(),
  })
  .strict();

/** Validates the (still percent-encoded) device id segment and the query string. */
export function parseReadingsParams(encodedDeviceId: string, query: URLSearchParams, nowMs: number): ParamsResult {
  const problems: string[] = [];
  const deviceId = decodeSegment(encodedDeviceId);
  if (deviceId === undefined) problems.push('deviceId: malformed percent-encoding');
  else if (parseTelemetryTopic(telemetryTopic(deviceId)) !== deviceId) problems.push('deviceId: 1-128 chars of [A-Za-z0-9_.:-]');

  const raw: Record<string, string> = {};
  for (const name of new Set(query.keys())) {
    const values = query.getAll(name);
    if (values.length > 1) problems.push(`${name}: given more than once`);
    raw[name] = values[0] as string;
  }
  const parsed = querySchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') for (const key of issue.keys) problems.push(`${key}: unknown parameter (from, to, limit, order, cursor)`);
      else problems.push(`${String(issue.path[0])}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !parsed.success || deviceId === undefined) return failed(problems);

  const q = parsed.data;
  const fromMs = q.from ?? nowMs - DAY_MS;
  const toMs = q.to ?? nowMs + DAY_MS;
  if (fromMs > toMs) problems.push(`from: must not be after to (${fromMs} > ${toMs})`);
  if (q.cursor !== undefined && (q.cursor < fromMs || q.cursor > toMs)) problems.push('cursor: outside [from, to]; pass the "next" value of a page of this same query');
  if (problems.length > 0) return failed(problems);
  return { ok: true, params: { deviceId, fromMs, toMs, limit: q.limit ?? DEFAULT_READINGS_LIMIT, newestFirst: q.order === 'desc', cursor: q.cursor } };
}

function failed(problems: string[]): ParamsResult {
  const parameters = [...new Set(problems.map((p) => p.slice(0, p.indexOf(':'))))];
  return { ok: false, problems, parameters };
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
