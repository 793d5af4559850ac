// What a feature adds to the HTTP port: routes (method + path pattern + handler), and the small
// helpers they share: JSON replies, bounded JSON bodies, and the 400 that names the parameter.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';

export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** Decoded path parameters (the pattern's capture groups). */
  readonly params: string[];
}

export interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: RegExp;
  /** Served without the API token (static console shell). */
  readonly public?: boolean;
  handle(ctx: RouteContext): Promise<void> | void;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/** Reads a JSON body of at most `maxBytes`; 413 beyond, 400 when it is not JSON. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpError(413, 'BODY_TOO_LARGE', `request body is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'the body is not valid JSON', ['body: valid JSON']);
  }
}

/** Parses with a zod schema; a failure is a 400 naming each field ("name: must be ..."). */
export function parseOr400<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : 'body'}: ${i.message}`);
  throw new HttpError(400, 'BAD_REQUEST', problems.join('; '), problems);
}

/** Query parameters as an object (last value wins), for zod. */
export function queryObject(url: URL): Record<string, string> {
  return Object.fromEntries(url.searchParams.entries());
}
