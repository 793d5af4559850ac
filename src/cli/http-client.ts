// What the HTTP-speaking subcommands (command, tail) share: where the service is, its API token,
// and turning HTTP failures into one-line errors.
import { z } from 'zod';
import { CliError } from '../errors.ts';
import type { SettingSpec } from '../config/schema.ts';

export const HTTP_SETTINGS: readonly SettingSpec[] = [
  { key: 'url', flag: 'url', env: 'IOT_INGEST_URL', kind: 'string', help: 'HTTP address of a running `iot-ingest serve` (default http://127.0.0.1:9464).' },
  { key: 'apiToken', flag: 'api-token', env: 'API_TOKEN', kind: 'string', secret: true, help: 'The service\'s API token, when it has one.' },
];

export const httpShape = {
  url: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }).default('http://127.0.0.1:9464'),
  apiToken: z.string().optional(),
};

export function authHeaders(apiToken: string | undefined): Record<string, string> {
  return apiToken ? { authorization: `Bearer ${apiToken}` } : {};
}

/** fetch with failures as CliErrors: unreachable (1), 401 (1), 4xx from a bad argument (2), other (1). */
export async function request(url: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new CliError('STORE_UNAVAILABLE', `cannot reach ${new URL(url).origin} (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}); is \`iot-ingest serve\` running? (--url)`, { exitCode: 1 });
  }
  if (res.ok) return res;
  const body = (await res.json().catch(() => ({}))) as { message?: string; error?: string };
  const why = body.message ?? body.error ?? res.statusText;
  if (res.status === 401) throw new CliError('CONFIG_INVALID', `the service wants its API token: ${why} (--api-token / API_TOKEN)`, { exitCode: 1 });
  throw new CliError('CONFIG_INVALID', `${res.status}: ${why}`, { exitCode: res.status >= 400 && res.status < 500 && res.status !== 404 ? 2 : 1 });
}
