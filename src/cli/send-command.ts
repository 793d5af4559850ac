// `iot-ingest command <deviceId> <name>`: sends a command through a running service's HTTP API
// (POST /devices/{id}/commands) and, with --wait, polls its status until the device answers, the
// command expires or --timeout-seconds passes.
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { usageError } from '../config/load.ts';
import { bool, int } from '../config/schema.ts';
import type { SettingSpec } from '../config/schema.ts';
import { COMMAND_NAME, DEVICE_ID, MAX_COMMAND_TTL_SECONDS } from '../commands/command.ts';
import { defineCommand } from './command.ts';
import { EXIT } from './exit-codes.ts';
import { HTTP_GROUP, HTTP_SETTINGS, authHeaders, httpShape, request } from './http-client.ts';

const SETTINGS: SettingSpec[] = [
  { key: 'payload', flag: 'payload', env: 'COMMAND_PAYLOAD', kind: 'string', value: 'JSON', help: 'The command\'s payload, as JSON (default null).' },
  { key: 'ttlSeconds', flag: 'ttl-seconds', env: 'COMMAND_TTL_SECONDS', kind: 'string', value: 'N', help: 'Not answered by then, the command expires (default 3600).' },
  { key: 'wait', flag: 'wait', env: 'COMMAND_WAIT', kind: 'boolean', help: 'Wait for the device\'s answer; exit 1 when it does not come.' },
  { key: 'timeoutSeconds', flag: 'timeout-seconds', env: 'COMMAND_TIMEOUT_SECONDS', kind: 'string', value: 'N', help: 'How long --wait waits (default 30).' },
  ...HTTP_SETTINGS,
];

const POLL_MS = 250;

type Command = Record<string, unknown> & { commandId: string; status: string };

export const sendCommandCommand = defineCommand({
  name: 'command',
  usage: ['<deviceId> <name> [--payload JSON] [--wait] [options]'],
  description: 'Sends a command to a device through a running service. It is delivered (QoS 1 on\n'
    + 'devices/{deviceId}/commands/{name}) when the device is connected and subscribed, now or later.',
  positionals: [
    ['deviceId', 'the device: 1-128 characters of A-Z a-z 0-9 _ . : -'],
    ['name', 'the command: 1-64 characters of A-Z a-z 0-9 _ . : -'],
  ],
  settings: SETTINGS,
  groups: HTTP_GROUP,
  json: true,
  schema: z.object({
    payload: z
      .string()
      .transform((text, ctx) => {
        try {
          return JSON.parse(text) as unknown;
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: `must be JSON (${(err as Error).message})` });
          return z.NEVER;
        }
      })
      .optional(),
    ttlSeconds: int(z.number().min(1).max(MAX_COMMAND_TTL_SECONDS)).optional(),
    wait: bool.default(false),
    timeoutSeconds: int(z.number().min(1).max(86_400)).default(30),
    ...httpShape,
  }),
  examples: [
    'iot-ingest command valve-1 open --payload \'{"percent":40}\' --wait',
    'iot-ingest command valve-1 close --ttl-seconds 600 --json',
  ],
  async run({ config, args, json, io }) {
    const [deviceId, name] = args as [string, string];
    const problems = [
      ...(DEVICE_ID.test(deviceId) ? [] : [`<deviceId> "${deviceId}": must be 1-128 characters of A-Z a-z 0-9 _ . : -`]),
      ...(COMMAND_NAME.test(name) && name !== 'response' ? [] : [`<name> "${name}": must be 1-64 characters of A-Z a-z 0-9 _ . : - (not "response")`]),
    ];
    if (problems.length > 0) throw usageError(problems);
    const headers = { 'content-type': 'application/json', ...authHeaders(config.apiToken) };
    const base = config.url.replace(/\/$/, '');
    const body = { name, ...(config.payload === undefined ? {} : { payload: config.payload }), ...(config.ttlSeconds === undefined ? {} : { ttlSeconds: config.ttlSeconds }) };
    let command = (await (await request(`${base}/devices/${deviceId}/commands`, { method: 'POST', headers, body: JSON.stringify(body) })).json()) as Command;
    if (config.wait) {
      const deadline = Date.now() + config.timeoutSeconds * 1000;
      while (command.status !== 'answered' && command.status !== 'expired' && Date.now() < deadline) {
        await sleep(POLL_MS);
        command = (await (await request(`${base}/devices/${deviceId}/commands/${command.commandId}`, { headers })).json()) as Command;
      }
    }
    if (json) io.stdout.write(`${JSON.stringify(command)}\n`);
    else {
      io.stdout.write(`command ${command.commandId} to ${deviceId}: ${command.status}\n`);
      if (command.response !== undefined) io.stdout.write(`${JSON.stringify(command.response)}\n`);
    }
    if (!config.wait || command.status === 'answered') return EXIT.OK;
    io.stderr.write(command.status === 'expired' ? 'the command expired unanswered\n' : `no answer within ${config.timeoutSeconds} s (status: ${command.status})\n`);
    return EXIT.FAILURE;
  },
});
