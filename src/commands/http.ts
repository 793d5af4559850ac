// HTTP routes of commands: POST /devices/{id}/commands creates one (201 with its id and status),
// GET /devices/{id}/commands/{commandId} reads its status.
import { z } from 'zod';
import { HttpError, parseOr400, readJsonBody, sendJson } from '../http/route.ts';
import type { Route } from '../http/route.ts';
import { DEVICE_ID, MAX_COMMAND_JSON_BYTES, commandRequestSchema, describeCommand } from './command.ts';
import type { CommandService } from './service.ts';

const deviceIdSchema = z.string().regex(DEVICE_ID, 'must be 1-128 chars of [A-Za-z0-9_.:-]');

export function commandRoutes(commands: CommandService, now: () => number = Date.now): Route[] {
  return [
    {
      method: 'POST',
      path: /^\/devices\/([^/]+)\/commands$/,
      async handle({ req, res, params }) {
        const deviceId = parseOr400(z.object({ deviceId: deviceIdSchema }), { deviceId: params[0] }).deviceId;
        const body = parseOr400(commandRequestSchema, await readJsonBody(req, MAX_COMMAND_JSON_BYTES + 1024));
        if (body.payload !== undefined && Buffer.byteLength(JSON.stringify(body.payload)) > MAX_COMMAND_JSON_BYTES) {
          throw new HttpError(400, 'BAD_REQUEST', `payload: at most ${MAX_COMMAND_JSON_BYTES} bytes as JSON`, [`payload: at most ${MAX_COMMAND_JSON_BYTES} bytes as JSON`]);
        }
        const command = await commands.create(deviceId, body);
        res.setHeader('location', `/devices/${encodeURIComponent(deviceId)}/commands/${command.commandId}`);
        sendJson(res, 201, describeCommand(command, now()));
      },
    },
    {
      method: 'GET',
      path: /^\/devices\/([^/]+)\/commands\/([^/]+)$/,
      async handle({ res, params }) {
        const { deviceId, commandId } = parseOr400(
          z.object({ deviceId: deviceIdSchema, commandId: z.string().regex(/^[a-z0-9-]{1,64}$/, 'not a command id') }),
          { deviceId: params[0], commandId: params[1] },
        );
        const command = await commands.get(deviceId, commandId);
        if (!command) throw new HttpError(404, 'NOT_FOUND', `no command ${commandId} for device ${deviceId} (or it was purged after its retention)`);
        sendJson(res, 200, describeCommand(command, now()));
      },
    },
  ];
}
