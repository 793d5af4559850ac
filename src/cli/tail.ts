// `iot-ingest tail [deviceId ...]`: prints readings as they are stored, read from the service's
// Server-Sent Events stream (GET /devices/{id}/stream for one device; GET /stream for all devices or
// ?devices=a,b, rate-bounded by the service). Runs until interrupted, or until --count readings.
import { z } from 'zod';
import { usageError } from '../config/load.ts';
import { int } from '../config/schema.ts';
import type { SettingSpec } from '../config/schema.ts';
import { CliError } from '../errors.ts';
import { defineCommand } from './command.ts';
import { EXIT } from './exit-codes.ts';
import { HTTP_GROUP, HTTP_SETTINGS, authHeaders, httpShape, request } from './http-client.ts';
import { SseFrames } from '../live/sse-frames.ts';

const SETTINGS: SettingSpec[] = [
  { key: 'count', flag: 'count', env: 'TAIL_COUNT', kind: 'string', value: 'N', help: 'Stop after this many readings (default: until Ctrl-C).' },
  ...HTTP_SETTINGS,
];

export const tailCommand = defineCommand({
  name: 'tail',
  usage: ['[deviceId ...] [options]'],
  description: 'Prints readings as they are stored: `<time>  <device>  <attributes>`, or with --json the stored\n'
    + 'item, one per line. With no device, all devices (the service bounds that stream\'s rate; readings\n'
    + 'over it are skipped and reported on stderr).',
  restPositionals: ['deviceId', 'devices to follow (default: all)'],
  settings: SETTINGS,
  groups: HTTP_GROUP,
  json: true,
  schema: z.object({ count: int(z.number().min(1)).optional(), ...httpShape }),
  examples: ['iot-ingest tail', 'iot-ingest tail sensor-1 sensor-2 --json | jq .temperature'],
  async run({ config, args, json, io }) {
    const bad = args.filter((d) => !/^[A-Za-z0-9_.:-]{1,128}$/.test(d));
    if (bad.length > 0) throw usageError(bad.map((d) => `<deviceId> "${d}": must be 1-128 characters of A-Z a-z 0-9 _ . : -`));
    const base = config.url.replace(/\/$/, '');
    const path = args.length === 1 ? `/devices/${args[0]}/stream` : args.length > 1 ? `/stream?devices=${args.join(',')}` : '/stream';
    const signal = io.trapSignals();
    const controller = new AbortController();
    signal.addEventListener('abort', () => controller.abort(), { once: true });
    const res = await request(`${base}${path}`, { headers: { accept: 'text/event-stream', ...authHeaders(config.apiToken) }, signal: controller.signal });
    let printed = 0;
    const frames = new SseFrames();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        for (const { event, data } of frames.push(decoder.decode(chunk, { stream: true }))) {
          if (event === 'skipped') io.stderr.write(`(skipped ${(JSON.parse(data) as { count: number }).count} reading(s))\n`);
          if (event !== 'reading') continue;
          io.stdout.write(`${json ? data : formatReading(JSON.parse(data) as Record<string, unknown>)}\n`);
          if (config.count !== undefined && ++printed >= config.count) {
            controller.abort();
            return EXIT.OK;
          }
        }
      }
    } catch (err) {
      if (controller.signal.aborted) return EXIT.OK;
      throw new CliError('STORE_UNAVAILABLE', `the stream broke: ${(err as Error).message}`, { exitCode: EXIT.FAILURE });
    }
    if (controller.signal.aborted) return EXIT.OK;
    throw new CliError('STORE_UNAVAILABLE', 'the service closed the stream (shutting down?)', { exitCode: EXIT.FAILURE });
  },
});

function formatReading(item: Record<string, unknown>): string {
  const { deviceId, ts, receivedAt: _r, expiresAt: _e, ...attributes } = item;
  return `${new Date(Number(ts)).toISOString()}  ${String(deviceId)}  ${JSON.stringify(attributes)}`;
}
