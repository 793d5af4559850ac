// Server-Sent Events: GET /devices/{id}/stream (every stored reading of one device) and GET /stream
// (all devices, or ?devices=a,b; bounded to a rate per client, for the console; also a `stats`
// event each second with the stored-readings rate). Events: `reading` (data = the stored item),
// `skipped` (data = {count}: readings this client missed, slow or over the rate, before the next
// one), `stats`. The number of streams is bounded (503 beyond).
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { HttpError, parseOr400, queryObject } from '../http/route.ts';
import type { Route } from '../http/route.ts';
import type { LiveHub, LiveSubscriber } from './hub.ts';
import type { LiveMetrics } from './metrics.ts';

const HEARTBEAT_MS = 15_000;
const STATS_MS = 1_000;
const DEVICE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export interface SseOptions {
  readonly hub: LiveHub;
  readonly metrics: LiveMetrics;
  readonly maxSubscribers: number;
  readonly maxEventsPerSecond: number;
}

export function sseRoutes(o: SseOptions): Route[] {
  return [
    {
      method: 'GET',
      path: /^\/devices\/([^/]+)\/stream$/,
      handle({ req, res, params }) {
        const { deviceId } = parseOr400(z.object({ deviceId: z.string().regex(DEVICE_ID, 'must be 1-128 chars of [A-Za-z0-9_.:-]') }), { deviceId: params[0] });
        open(o, req, res, { accepts: (d) => d === deviceId, stats: false });
      },
    },
    {
      method: 'GET',
      path: /^\/stream$/,
      handle({ req, res, url }) {
        const q = parseOr400(
          z.strictObject({ devices: z.string().refine((v) => v.split(',').every((d) => DEVICE_ID.test(d)), 'comma-separated device ids').optional() }),
          queryObject(url),
        );
        const devices = q.devices === undefined ? undefined : new Set(q.devices.split(','));
        open(o, req, res, { accepts: devices && ((d) => devices.has(d)), maxEventsPerSecond: o.maxEventsPerSecond, stats: true });
      },
    },
  ];
}

function open(
  o: SseOptions,
  req: { on(event: 'close', fn: () => void): unknown },
  res: ServerResponse,
  opts: { accepts?: ((deviceId: string) => boolean) | undefined; maxEventsPerSecond?: number; stats: boolean },
): void {
  if (o.hub.count('sse') >= o.maxSubscribers) {
    o.metrics.refused.inc();
    throw new HttpError(503, 'TOO_MANY_STREAMS', `at most ${o.maxSubscribers} live streams at once (--live-max-subscribers)`);
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.write('retry: 2000\n: connected\n\n');
  const subscriber: LiveSubscriber = {
    transport: 'sse',
    accepts: opts.accepts,
    maxEventsPerSecond: opts.maxEventsPerSecond,
    bufferedBytes: () => res.writableLength,
    send(event, skippedBefore) {
      if (skippedBefore > 0) res.write(`event: skipped\ndata: {"count":${skippedBefore}}\n\n`);
      res.write(`event: reading\ndata: ${event.json}\n\n`);
    },
    drop: () => res.destroy(),
  };
  const remove = o.hub.add(subscriber);
  const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS).unref();
  let last = { at: Date.now(), stored: o.hub.stored() };
  const stats = opts.stats
    ? setInterval(() => {
        const now = { at: Date.now(), stored: o.hub.stored() };
        const perSecond = ((now.stored - last.stored) * 1000) / Math.max(1, now.at - last.at);
        last = now;
        if (res.writableLength <= 64 * 1024) res.write(`event: stats\ndata: {"ts":${now.at},"storedPerSecond":${Math.round(perSecond * 10) / 10}}\n\n`);
      }, STATS_MS).unref()
    : undefined;
  req.on('close', () => {
    remove();
    clearInterval(heartbeat);
    if (stats) clearInterval(stats);
  });
}
