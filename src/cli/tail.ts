// `iot-ingest tail [deviceId ...] [--json] [--count N]`: prints readings as they are stored, read
// from the service's Server-Sent Events stream (GET /devices/{id}/stream for one device, GET
// /stream otherwise: all devices or ?devices=a,b, rate-bounded by the service). Runs until
// interrupted, or until --count readings were printed.
import { z } from 'zod';
import { formatSettingsHelp, loadConfig } from '../config/load.ts';
import { bool, int } from '../config/schema.ts';
import type { SettingSpec } from '../config/schema.ts';
import { CliError } from '../errors.ts';
import { HTTP_SETTINGS, authHeaders, httpShape, request } from './http-client.ts';

const SETTINGS: SettingSpec[] = [
  { key: 'json', flag: 'json', env: 'TAIL_JSON', kind: 'boolean', help: 'One stored item per line, as JSON.' },
  { key: 'count', flag: 'count', env: 'TAIL_COUNT', kind: 'string', help: 'Stop after this many readings.' },
  ...HTTP_SETTINGS,
];

const schema = z.object({ json: bool.default(false), count: int(z.number().min(1)).optional(), ...httpShape });

export async function runTail(
  argv: string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv; signal?: AbortSignal },
): Promise<number> {
  const { config, help, positionals } = loadConfig(schema, SETTINGS, argv, io.env);
  if (help) {
    io.stdout.write(`Usage: iot-ingest tail [deviceId ...] [options]\n\nPrints readings as they are stored (until Ctrl-C).\n\n${formatSettingsHelp(SETTINGS, {})}\n`);
    return 0;
  }
  const bad = positionals.find((d) => !/^[A-Za-z0-9_.:-]{1,128}$/.test(d));
  if (bad !== undefined) throw new CliError('CONFIG_INVALID', `"${bad}" is not a device id (1-128 chars of [A-Za-z0-9_.:-])`);
  const base = config.url.replace(/\/$/, '');
  const path = positionals.length === 1 ? `/devices/${positionals[0]}/stream` : positionals.length > 1 ? `/stream?devices=${positionals.join(',')}` : '/stream';
  const controller = new AbortController();
  io.signal?.addEventListener('abort', () => controller.abort(), { once: true });
  const res = await request(`${base}${path}`, { headers: { accept: 'text/event-stream', ...authHeaders(config.apiToken) }, signal: controller.signal });
  let printed = 0;
  let buffer = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data === undefined) continue;
        if (event === 'skipped') io.stderr.write(`(skipped ${(JSON.parse(data) as { count: number }).count} reading(s): this terminal is slower than the stream)\n`);
        if (event !== 'reading') continue;
        io.stdout.write(`${config.json ? data : formatReading(JSON.parse(data) as Record<string, unknown>)}\n`);
        if (config.count !== undefined && ++printed >= config.count) {
          controller.abort();
          return 0;
        }
      }
    }
  } catch (err) {
    if (controller.signal.aborted) return 0;
    throw new CliError('STORE_UNAVAILABLE', `the stream ended: ${(err as Error).message}`, { exitCode: 1 });
  }
  if (controller.signal.aborted) return 0;
  throw new CliError('STORE_UNAVAILABLE', 'the service closed the stream (shutting down?)', { exitCode: 1 });
}

function formatReading(item: Record<string, unknown>): string {
  const { deviceId, ts, receivedAt: _r, expiresAt: _e, ...attributes } = item;
  return `${new Date(Number(ts)).toISOString()}  ${String(deviceId)}  ${JSON.stringify(attributes)}`;
}
