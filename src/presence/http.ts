// HTTP routes of the registry view: GET /devices?online=&limit=&cursor= and GET /devices/{id}.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { HttpError, parseOr400, queryObject, sendJson } from '../http/route.ts';
import type { Route } from '../http/route.ts';
import { decodeCursor, getDevice, listDevices } from './registry-view.ts';

const listQuery = z.strictObject({
  online: z.enum(['true', 'false'], { error: 'true or false' }).optional(),
  limit: z
    .string()
    .regex(/^\d{1,4}$/, 'integer 1-1000')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 1000, 'integer 1-1000')
    .optional(),
  cursor: z.string().refine((c) => decodeCursor(c) !== undefined, 'the "next" value of a previous page').optional(),
});

export function deviceRoutes(doc: DynamoDBDocumentClient, devicesTable: string, telemetryTable: string): Route[] {
  return [
    {
      method: 'GET',
      path: /^\/devices$/,
      async handle({ res, url }) {
        const q = parseOr400(listQuery, queryObject(url));
        const page = await listDevices(doc, devicesTable, {
          limit: q.limit ?? 100,
          online: q.online === undefined ? undefined : q.online === 'true',
          cursor: q.cursor === undefined ? undefined : decodeCursor(q.cursor),
        });
        sendJson(res, 200, { count: page.items.length, items: page.items, ...(page.next ? { next: page.next } : {}) });
      },
    },
    {
      method: 'GET',
      path: /^\/devices\/([^/]+)$/,
      async handle({ res, params }) {
        const { deviceId } = parseOr400(z.object({ deviceId: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1-128 chars of [A-Za-z0-9_.:-]') }), { deviceId: params[0] });
        const device = await getDevice(doc, devicesTable, telemetryTable, deviceId);
        if (!device) throw new HttpError(404, 'NOT_FOUND', `device ${deviceId} has neither a registry item nor readings`);
        sendJson(res, 200, device);
      },
    },
  ];
}
