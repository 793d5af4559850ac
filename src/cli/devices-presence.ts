// `iot-ingest devices list|show` (dispatched from devices.ts): the presence view of a running service (GET /devices,
// GET /devices/{id}): online or not, last seen, last reading time, the latest reading.
import { z } from 'zod';
import { usageError } from '../config/load.ts';
import { bool, int } from '../config/schema.ts';
import type { SettingSpec } from '../config/schema.ts';
import { defineCommand } from './command.ts';
import { EXIT } from './exit-codes.ts';
import { HTTP_GROUP, HTTP_SETTINGS, authHeaders, httpShape, request } from './http-client.ts';

const SETTINGS: SettingSpec[] = [
  { key: 'online', flag: 'online', env: 'DEVICES_ONLINE', kind: 'string', value: 'BOOL', help: 'list: only online (true) or offline (false) devices.' },
  { key: 'limit', flag: 'limit', env: 'DEVICES_LIMIT', kind: 'string', value: 'N', help: 'list: devices per page (default 100).' },
  { key: 'all', flag: 'all', env: 'DEVICES_ALL', kind: 'boolean', help: 'list: follow every page.' },
  ...HTTP_SETTINGS,
];

type Device = Record<string, unknown> & { deviceId: string; online: boolean };

export const devicesPresenceCommand = defineCommand({
  name: 'devices',
  usage: ['list [--online true|false] [--all] [options]', 'show <deviceId> [options]'],
  description: 'Shows the device registry of a running service: presence and the latest reading.',
  actions: [
    ['list', 'one line per device (--json: one JSON object per line)'],
    ['show', 'one device, with its latest reading'],
  ],
  restPositionals: ['deviceId', 'show: the device'],
  settings: SETTINGS,
  groups: HTTP_GROUP,
  json: true,
  schema: z.object({
    online: z.enum(['true', 'false'], { error: 'must be true or false' }).optional(),
    limit: int(z.number().min(1).max(1000)).default(100),
    all: bool.default(false),
    ...httpShape,
  }),
  async run({ config, args, json, io }) {
    const base = config.url.replace(/\/$/, '');
    const headers = authHeaders(config.apiToken);
    const time = (ms: unknown): string => (typeof ms === 'number' ? new Date(ms).toISOString() : '-');
    const line = (d: Device): string => `${d.online ? 'online ' : 'offline'}  ${d.deviceId}  seen ${time(d.lastSeenAt)}  reading ${time(d.lastReadingAt)}`;
    if (args[0] === 'show') {
      const deviceId = args[1];
      if (deviceId === undefined || args.length > 2) throw usageError(['show takes one <deviceId>']);
      const device = (await (await request(`${base}/devices/${encodeURIComponent(deviceId)}`, { headers })).json()) as Device;
      io.stdout.write(json ? `${JSON.stringify(device)}\n` : `${line(device)}\n${JSON.stringify(device.lastReading ?? null)}\n`);
      return EXIT.OK;
    }
    if (args.length > 1) throw usageError([`list takes no device id (got "${args[1]}")`]);
    let cursor: string | undefined;
    do {
      const q = new URLSearchParams({ limit: String(config.limit), ...(config.online ? { online: config.online } : {}), ...(cursor ? { cursor } : {}) });
      const page = (await (await request(`${base}/devices?${q}`, { headers })).json()) as { items: Device[]; next?: string };
      for (const d of page.items) io.stdout.write(`${json ? JSON.stringify(d) : line(d)}\n`);
      cursor = page.next;
      if (cursor && !config.all) io.stderr.write(`next: ${cursor} (more devices: --all)\n`);
    } while (cursor && config.all);
    return EXIT.OK;
  },
});
