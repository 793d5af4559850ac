// `iot-ingest command <deviceId> <name> [--payload JSON] [--ttl-seconds N] [--wait]
// [--timeout-seconds N] [--json]`: sends a command through a running service's HTTP API
// (POST /devices/{id}/commands) and, with --wait, polls its status until the device answers.
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { formatSettingsHelp, loadConfig } from '../config/load.ts';
import { bool, int } from '../config/schema.ts';
import type { SettingSpec } from '../config/schema.ts';
import { CliError } from '../errors.ts';
import { HTTP_SETTINGS, authHeaders, httpShape, request } from './http-client.ts';

const SETTINGS: SettingSpec[] = [
  { key: 'payload', flag: 'payload', env: 'COMMAND_PAYLOAD', kind: 'string', help: 'The command\'s payload, as JSON (default null).' },
  { key: 'ttlSeconds', flag: 'ttl-seconds', env: 'COMMAND_TTL_SECONDS', kind: 'string', help: 'Not delivered and answered by then, the command expires (default 3600).' },
  { key: 'wait', flag: 'wait', env: 'COMMAND_WAIT', kind: 'boolean', help: 'Wait for the device\'s answer.' },
  { key: 'timeoutSeconds', flag: 'timeout-seconds', env: 'COMMAND_TIMEOUT_SECONDS', kind: 'string', help: 'How long --wait waits (default 30).' },
  { key: 'json', flag: 'json', env: 'COMMAND_JSON', kind: 'boolean', help: 'Print the command as JSON.' },
  ...HTTP_SETTINGS,
];

const POLL_MS = 250;

const schema = z.object({
  payload: z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `not valid JSON (${(err as Error).message})` });
        return z.NEVER;
      }
    })
    .optional(),
  ttlSeconds: int(z.number().min(1)).optional(),
  wait: bool.default(false),
  timeoutSeconds: int(z.number().min(1).max(86_400)).default(30),
  json: bool.default(false),
  ...httpShape,
});

type Command = Record<string, unknown> & { commandId: string; status: string };

export async function runCommand(argv: string[], io: { stdout: NodeJS.WritableStream; env: NodeJS.ProcessEnv }): Promise<number> {
  const { config, help, positionals } = loadConfig(schema, SETTINGS, argv, io.env);
  if (help) {
    io.stdout.write(`Usage: iot-ingest command <deviceId> <name> [options]\n\nSends a command to a device (delivered when it is connected and subscribed to devices/{id}/commands/#).\n\n${formatSettingsHelp(SETTINGS, {})}\n`);
    return 0;
  }
  const [deviceId, name, extra] = positionals;
  if (!deviceId || !name) throw new CliError('CONFIG_INVALID', 'usage: iot-ingest command <deviceId> <name> [--payload JSON] [--wait] (see --help)');
  if (extra !== undefined) throw new CliError('CONFIG_INVALID', `unexpected argument "${extra}" (a payload goes in --payload '<json>')`);
  const headers = { 'content-type': 'application/json', ...authHeaders(config.apiToken) };
  const base = config.url.replace(/\/$/, '');
  const created = (await (
    await request(`${base}/devices/${encodeURIComponent(deviceId)}/commands`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name, ...(config.payload === undefined ? {} : { payload: config.payload }), ...(config.ttlSeconds === undefined ? {} : { ttlSeconds: config.ttlSeconds }) }),
    })
  ).json()) as Command;
  let command = created;
  if (config.wait) {
    const deadline = Date.now() + config.timeoutSeconds * 1000;
    while (command.status !== 'answered' && command.status !== 'expired' && Date.now() < deadline) {
      await sleep(POLL_MS);
      command = (await (await request(`${base}/devices/${encodeURIComponent(deviceId)}/commands/${command.commandId}`, { headers })).json()) as Command;
    }
  }
  if (config.json) io.stdout.write(`${JSON.stringify(command)}\n`);
  else {
    io.stdout.write(`command ${command.commandId} to ${deviceId}: ${command.status}\n`);
    if (command.response !== undefined) io.stdout.write(`${JSON.stringify(command.response)}\n`);
  }
  if (!config.wait || command.status === 'answered') return 0;
  if (!config.json) io.stdout.write(command.status === 'expired' ? 'the command expired unanswered\n' : `no answer within ${config.timeoutSeconds} s\n`);
  return 1;
}
