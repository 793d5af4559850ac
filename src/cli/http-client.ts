// What the HTTP-speaking commands (command, tail, devices) share: where the service is, its API
// token, and HTTP failures as one-line errors with the project's exit codes.
import { z } from 'zod';
import { usageError } from '../config/load.ts';
import type { SettingSpec } from '../config/schema.ts';
import { CliError } from '../errors.ts';
import { EXIT } from './exit-codes.ts';

export const HTTP_SETTINGS: readonly SettingSpec[] = [
  { key: 'url', flag: 'url', env: 'IOT_INGEST_URL', kind: 'string', value: 'URL', help: 'HTTP address of a running `iot-ingest serve` (default http://127.0.0.1:9464).' },
  { key: 'apiToken', flag: 'api-token', env: 'API_TOKEN', kind: 'string', value: 'TOKEN', secret: true, help: 'The service\'s API token, when it has one.' },
];
export const HTTP_GROUP = { 'Service': ['url', 'apiToken'] } as const;

export const httpShape = {
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).default('http://127.0.0.1:9464'),
  apiToken: z.string().optional(),
};

export function authHeaders(apiToken: string | undefined): Record<string, string> {
  return apiToken ? { authorization: `Bearer ${apiToken}` } : {};
}

/** fetch with failures as one-line errors: unreachable or 401 (exit 1), a refused argument (exit 2). */
export async function request(url: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    const why = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new CliError('STORE_UNAVAILABLE', `cannot reach ${new URL(url).origin} (${why}): is \`iot-ingest serve\` running there? (--url / IOT_INGEST_URL)`, { exitCode: EXIT.FAILURE });
  }
  if (res.ok) return res;
  const body = (await res.json().catch(() => ({}))) as { message?: string; error?: string; problems?: string[] };
  const why = body.message ?? body.error ?? res.statusText;
  if (res.status === 401) throw new CliError('CONFIG_INVALID', `the service wants its API token (--api-token / API_TOKEN): ${why}`, { exitCode: EXIT.FAILURE });
  if (res.status === 400 && body.problems) throw usageError(body.problems);
  throw new CliError('STORE_UNAVAILABLE', `${res.status}: ${why}`, { exitCode: EXIT.FAILURE });
}
