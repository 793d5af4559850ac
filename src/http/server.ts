// One HTTP port: /metrics (Prometheus), /healthz (the process is up), /readyz (the table is
// reachable and the service is not shutting down), GET /devices/{id}/readings (DynamoDB Query),
// and the routes features add (commands, devices, live streams, console). With an API token, every
// path but /healthz, /readyz and the console's static shell needs `Authorization: Bearer <token>`.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { queryReadings } from '../storage/readings-query.ts';
import { parseReadingsParams } from './readings-params.ts';
import type { HttpGuard } from './auth.ts';
import { HttpError, sendJson } from './route.ts';
import type { Route } from './route.ts';

export interface HttpOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly isReady: () => boolean;
  /** What /readyz reports beside its status (the store's state, the embedded store's pid, cluster mode's Redis state). */
  readonly readinessDetail?: () => Record<string, unknown>;
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly log: Logger;
  /** Bearer-token check (auth.ts); undefined: no token configured. */
  readonly guard?: HttpGuard;
  /** Routes added by features; matched before the built-in read API. */
  readonly routes?: readonly Route[];
}

export interface RunningHttp {
  readonly port: number;
  close(): Promise<void>;
}

const READINGS_PATH = /^\/devices\/([^/]+)\/readings$/;

export async function startHttp(options: HttpOptions): Promise<RunningHttp> {
  const server: Server = createServer((req, res) => {
    handle(options, req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        if (!res.headersSent) sendJson(res, err.status, { error: err.code, message: err.message, ...(err.problems.length > 0 ? { problems: err.problems } : {}) });
        return;
      }
      options.log.error({ err, url: req.url }, 'HTTP request failed');
      if (!res.headersSent) send(res, 502, { error: 'STORE_UNAVAILABLE', message: (err as Error).message });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(o: HttpOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/healthz') return send(res, 200, { status: 'ok' });
  if (url.pathname === '/readyz') {
    const ready = o.isReady();
    return send(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', ...o.readinessDetail?.() });
  }
  for (const route of o.routes ?? []) {
    const m = route.path.exec(url.pathname);
    if (!m) continue;
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    if (method !== route.method) {
      if ((o.routes ?? []).some((r) => r !== route && r.method === method && r.path.test(url.pathname))) continue;
      return send(res, 405, { error: 'METHOD_NOT_ALLOWED' });
    }
    if (!route.public) {
      const auth = o.guard?.(req, url.pathname) ?? 'ok';
      if (auth !== 'ok') return unauthorized(res, auth);
    }
    let params: string[];
    try {
      params = m.slice(1).map((p) => decodeURIComponent(p ?? ''));
    } catch {
      return send(res, 400, { error: 'BAD_REQUEST', problems: ['path: invalid percent-encoding'] });
    }
    return route.handle({ req, res, url, params });
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'METHOD_NOT_ALLOWED' });
  const auth = o.guard?.(req, url.pathname) ?? 'ok';
  if (auth !== 'ok') return unauthorized(res, auth);
  if (url.pathname === '/metrics') {
    const body = await o.registry.metrics();
    res.writeHead(200, { 'content-type': o.registry.contentType });
    res.end(body);
    return;
  }
  const match = READINGS_PATH.exec(url.pathname);
  if (match) return readings(o, match[1] as string, url.searchParams, res);
  return send(res, 404, { error: 'NOT_FOUND', paths: ['/metrics', '/healthz', '/readyz', '/devices/{deviceId}/readings', '/devices', '/devices/{deviceId}', '/devices/{deviceId}/commands', '/devices/{deviceId}/stream', '/stream', '/dead-letters', '/'] });
}

function unauthorized(res: ServerResponse, why: 'missing' | 'invalid'): void {
  const text = JSON.stringify({ error: 'UNAUTHORIZED', message: why === 'missing' ? 'this path needs Authorization: Bearer <API token>' : 'wrong API token' });
  res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readings(o: HttpOptions, encodedDeviceId: string, query: URLSearchParams, res: ServerResponse): Promise<void> {
  // A client's mistake: a 400 naming each bad parameter, nothing logged.
  const parsed = parseReadingsParams(encodedDeviceId, query, Date.now());
  if (!parsed.ok) return send(res, 400, { error: 'BAD_REQUEST', parameters: parsed.parameters, problems: parsed.problems });
  const { deviceId, fromMs, toMs, limit, newestFirst, cursor } = parsed.params;
  const page = await queryReadings(o.doc, o.tableName, { deviceId, fromMs, toMs, limit, newestFirst, cursor: cursor === undefined ? undefined : String(cursor) });
  send(res, 200, { deviceId, from: fromMs, to: toMs, count: page.items.length, items: page.items, ...(page.next ? { next: page.next } : {}) });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
