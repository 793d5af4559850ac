// Times on the command line: epoch milliseconds or ISO-8601, as the ingest side accepts them.
// Epoch seconds (a ten-digit number) are refused with a hint, as the decoder refuses them in a
// payload, instead of being read as a date in January 1970.
import { z } from 'zod';
import { parseTime } from '../storage/readings-query.ts';

/** 2000-01-01 in epoch ms: the decoder's lower bound for ts. */
const MIN_TS_MS = 946_684_800_000;

export const timeSetting = z.string().transform((text, ctx) => {
  const ms = parseTime(text.trim());
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be epoch milliseconds (e.g. 1732480000000) or ISO-8601 (e.g. 2026-01-01T00:00:00Z)' });
    return z.NEVER;
  }
  if (/^\d+$/.test(text.trim()) && ms < MIN_TS_MS) {
    const hint = ms >= MIN_TS_MS / 1000 ? `looks like epoch seconds: use ${text.trim()}000 (milliseconds)` : 'is before 2000-01-01';
    ctx.addIssue({ code: 'custom', message: `${hint}; give epoch milliseconds or ISO-8601` });
    return z.NEVER;
  }
  return ms;
});
