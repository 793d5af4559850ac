// Serves the built console (console/dist: index.html, app.js, app.css; built by `npm run
// build:console` at install/package time, no CDN) at / and /console/*. The shell holds no data:
// it is public, and every data call it makes carries the API token the user enters.
import { readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendJson } from './route.ts';
import type { Route } from './route.ts';

export const CONSOLE_DIST = fileURLToPath(new URL('../../console/dist/', import.meta.url));
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.png': 'image/png' };

export function consoleRoutes(dir: string = CONSOLE_DIST): Route[] {
  let files: Map<string, Buffer> | undefined;
  const load = (): Map<string, Buffer> | undefined => {
    if (files) return files;
    try {
      files = new Map(readdirSync(dir).filter((f) => TYPES[extname(f)]).map((f) => [f, readFileSync(join(dir, f))]));
      return files;
    } catch {
      return undefined;
    }
  };
  const serve = (res: Parameters<Route['handle']>[0]['res'], name: string): void => {
    const all = load();
    const body = all?.get(name);
    if (!all) return sendJson(res, 503, { error: 'CONSOLE_NOT_BUILT', message: 'the console is not built: run `npm run build:console`' });
    if (!body) return sendJson(res, 404, { error: 'NOT_FOUND' });
    res.writeHead(200, { 'content-type': TYPES[extname(name)] as string, 'content-length': body.length, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
    res.end(body);
  };
  return [
    { method: 'GET', path: /^\/$/, public: true, handle: ({ res }) => serve(res, 'index.html') },
    { method: 'GET', path: /^\/console\/([A-Za-z0-9_.-]+)$/, public: true, handle: ({ res, params }) => serve(res, params[0] as string) },
  ];
}
