// Bearer-token check of the HTTP port: with a token configured, the read API and admin endpoints
// need `Authorization: Bearer <token>`; /healthz and /readyz stay open (orchestrators probe them);
// /metrics is open unless --metrics-auth. Compared in constant time over digests; refusals counted.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import { IngestError } from '../errors.ts';

const OPEN_PATHS = new Set(['/healthz', '/readyz']);

export interface HttpAuthSettings {
  readonly apiToken?: string | undefined;
  readonly apiTokenFile?: string | undefined;
  readonly metricsAuth: boolean;
}

export type HttpAuthResult = 'ok' | 'missing' | 'invalid';

/** undefined when no token is configured (then every path is open, and the listener is on loopback). */
export type HttpGuard = ((req: IncomingMessage, pathname: string) => HttpAuthResult) | undefined;

/** The configured token: the setting, or the first line of the file (read once at start-up). */
export function resolveApiToken(settings: HttpAuthSettings): string | undefined {
  if (settings.apiTokenFile === undefined) return settings.apiToken;
  let token: string;
  try {
    token = (readFileSync(settings.apiTokenFile, 'utf8').split('\n')[0] ?? '').trim();
  } catch (err) {
    throw new IngestError('CONFIG_INVALID', `--api-token-file: cannot read ${settings.apiTokenFile}: ${(err as Error).message}`, { cause: err });
  }
  if (token.length < 16) throw new IngestError('CONFIG_INVALID', `--api-token-file: the token in ${settings.apiTokenFile} must be at least 16 characters`);
  return token;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export function createHttpGuard(token: string | undefined, metricsAuth: boolean, registry: Registry): HttpGuard {
  if (token === undefined) return undefined;
  const expected = digest(token);
  const refusals = new Counter({ name: 'iot_ingest_http_auth_failures_total', help: 'HTTP requests refused (401) for a missing or wrong bearer token.', labelNames: ['reason'], registers: [registry] });
  refusals.inc({ reason: 'missing' }, 0);
  refusals.inc({ reason: 'invalid' }, 0);
  return (req, pathname) => {
    if (OPEN_PATHS.has(pathname) || (pathname === '/metrics' && !metricsAuth)) return 'ok';
    const header = req.headers.authorization;
    const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    const result: HttpAuthResult = !m ? 'missing' : timingSafeEqual(digest(m[1] as string), expected) ? 'ok' : 'invalid';
    if (result !== 'ok') refusals.inc({ reason: result });
    return result;
  };
}
