// The writer's HTTP/1.1 client (src/storage/dynamodb/http1-client.ts) against real servers on
// loopback: node:http servers for the answers a DynamoDB endpoint or a proxy gives (by length,
// chunked, closing), raw TCP servers for what node:http would not send (an answer until close,
// 100 Continue, a reset half-way, an answer that never comes), and TLS with certificates made here.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StoreError } from '../../src/storage/errors.ts';
import { Http1Pool } from '../../src/storage/dynamodb/http1-client.ts';
import { createTestPki } from '../helpers/certs.ts';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function head(body: Uint8Array, host = 'x'): string {
  return `POST / HTTP/1.1\r\nhost: ${host}\r\ncontent-length: ${body.byteLength}\r\n\r\n`;
}

/** A node:http server; `connections` counts the TCP connections it accepted. */
async function httpServer(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<{ url: URL; server: Server; connections: () => number }> {
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), server, connections: () => connections };
}

/** A TCP server that answers each connection's first request bytes with `answer(socket)`. */
async function rawServer(answer: (socket: Socket) => void): Promise<{ url: URL; server: NetServer }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', () => answer(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }));
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), server };
}

function pool(url: URL, options: Partial<ConstructorParameters<typeof Http1Pool>[1]> = {}): Http1Pool {
  const p = new Http1Pool(url, { maxSockets: 4, timeoutMs: 5_000, ...options });
  closers.push(() => p.close());
  return p;
}

async function failure(promise: Promise<unknown>): Promise<StoreError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(StoreError);
  return err as StoreError;
}

describe('HTTP/1.1 client of the writer', () => {
  it('posts head and body, reads answers by length and chunked, and reuses one connection for requests in turn', async () => {
    const seen: string[] = [];
    const { url, connections } = await httpServer((req, body, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers['x-target'] as string} ${body}`);
      if (body.startsWith('chunked')) {
        // No content-length: node:http sends it chunked, in parts.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"part":1,');
        setTimeout(() => res.end('"part2":"é"}'), 5);
      } else res.writeHead(body.startsWith('bad') ? 400 : 200, { 'content-type': 'application/json' }).end(JSON.stringify({ echo: body }));
    });
    const client = pool(url);
    for (let i = 0; i < 20; i++) {
      const body = Buffer.from(i % 3 === 1 ? `chunked ${i}` : `item ${i} ✓`);
      const { status, body: text } = await client.request(`POST /p HTTP/1.1\r\nhost: x\r\nx-target: t${i}\r\ncontent-length: ${body.length}\r\n\r\n`, body);
      expect(status).toBe(200);
      expect(text).toBe(i % 3 === 1 ? '{"part":1,"part2":"é"}' : JSON.stringify({ echo: `item ${i} ✓` }));
    }
    const bad = await client.request(head(Buffer.from('bad')), Buffer.from('bad'));
    expect(bad).toEqual({ status: 400, body: '{"echo":"bad"}' });
    expect(seen).toHaveLength(21);
    expect(seen[0]).toBe('POST /p t0 item 0 ✓');
    expect(connections()).toBe(1);
    expect(client.size).toBe(1);
  });

  it('opens at most maxSockets connections and queues the rest', async () => {
    let inFlight = 0;
    let most = 0;
    const { url, connections } = await httpServer((_req, body, res) => {
      most = Math.max(most, ++inFlight);
      setTimeout(() => {
        inFlight--;
        res.writeHead(200).end(body);
      }, 10);
    });
    const client = pool(url, { maxSockets: 3 });
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => client.request(head(Buffer.from(`r${i}`)), Buffer.from(`r${i}`))));
    expect(answers.map((a) => a.body)).toEqual(Array.from({ length: 12 }, (_, i) => `r${i}`));
    expect(most).toBe(3);
    expect(connections()).toBe(3);
  });

  it('closes a connection the server closes (Connection: close, or an answer until close), and opens another for the next request', async () => {
    const { url, connections } = await httpServer((_req, body, res) => {
      res.writeHead(200, { connection: 'close', 'content-length': body.length }).end(body);
    });
    const client = pool(url);
    for (let i = 0; i < 3; i++) expect((await client.request(head(Buffer.from(`c${i}`)), Buffer.from(`c${i}`))).body).toBe(`c${i}`);
    expect(connections()).toBe(3);

    const raw = await rawServer((socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end'));
    const untilClose = pool(raw.url);
    expect(await untilClose.request(head(Buffer.from('x')), Buffer.from('x'))).toEqual({ status: 200, body: 'until the end' });
    expect(await untilClose.request(head(Buffer.from('y')), Buffer.from('y'))).toEqual({ status: 200, body: 'until the end' });
  });

  it('skips a 100 Continue, and reads a chunked answer split at every byte with a trailer', async () => {
    const answer = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\n';
    const { url } = await rawServer((socket) => {
      // One byte per write, each after the last has left: every boundary is a chunk boundary.
      let i = 0;
      const next = (): void => {
        if (i >= answer.length) return;
        socket.write(answer[i++] as string, () => setImmediate(next));
      };
      next();
    });
    const client = pool(url);
    expect(await client.request(head(Buffer.from('x')), Buffer.from('x'))).toEqual({ status: 200, body: 'hello, world' });
  });

  it('fails a request as a retriable network error when the server resets half-way, closes early or answers garbage; the next request gets a new connection', async () => {
    let mode = 0;
    const { url } = await rawServer((socket) => {
      const m = mode++;
      if (m === 0) {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"half');
        setTimeout(() => socket.resetAndDestroy(), 10);
      } else if (m === 1) socket.end('HTTP/1.1 200 OK\r\ncontent-len');
      else if (m === 2) socket.end('SMTP ready\r\n\r\n');
      else socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
    });
    const client = pool(url);
    const reset = await failure(client.request(head(Buffer.from('a')), Buffer.from('a')));
    expect(reset.kind).toBe('network');
    expect(reset.retriable).toBe(true);
    const early = await failure(client.request(head(Buffer.from('b')), Buffer.from('b')));
    expect([early.kind, early.retriable]).toEqual(['network', true]);
    expect(early.message).toMatch(/closed the connection before its answer was complete/);
    const garbage = await failure(client.request(head(Buffer.from('c')), Buffer.from('c')));
    expect([garbage.kind, garbage.retriable]).toEqual(['network', true]);
    expect(garbage.message).toMatch(/unreadable answer.*status line/);
    expect(await client.request(head(Buffer.from('d')), Buffer.from('d'))).toEqual({ status: 200, body: 'ok' });
  });

  it('gives up on an answer that does not come within timeoutMs, and closes that connection', async () => {
    const closed: number[] = [];
    const { url } = await rawServer((socket) => socket.on('close', () => closed.push(Date.now())));
    const client = pool(url, { timeoutMs: 200 });
    const started = Date.now();
    const err = await failure(client.request(head(Buffer.from('x')), Buffer.from('x')));
    expect([err.kind, err.label, err.retriable]).toEqual(['network', 'TimeoutError', true]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    await vi.waitFor(() => expect(closed).toHaveLength(1));
    expect(client.size).toBe(0);
  });

  it('refuses an answer larger than maxResponseBytes, announced or chunked', async () => {
    const { url } = await httpServer((_req, body, res) => {
      if (body === 'length') return res.writeHead(200, { 'content-length': 5_000 }).end('x'.repeat(5_000));
      res.writeHead(200);
      for (let i = 0; i < 5; i++) res.write('x'.repeat(1_000));
      res.end();
    });
    const client = pool(url, { maxResponseBytes: 4_096 });
    const announced = await failure(client.request(head(Buffer.from('length')), Buffer.from('length')));
    expect(announced.message).toMatch(/answer of 5000 bytes, limit 4096/);
    const chunked = await failure(client.request(head(Buffer.from('chunked')), Buffer.from('chunked')));
    expect(chunked.message).toMatch(/answer larger than 4096 bytes/);
    expect(client.size).toBe(0);
  });

  it('does not use a connection idle for longer than idleTimeoutMs, and copes with one the server dropped', async () => {
    const { url, server, connections } = await httpServer((_req, body, res) => res.writeHead(200).end(body));
    const client = pool(url, { idleTimeoutMs: 50 });
    await client.request(head(Buffer.from('1')), Buffer.from('1'));
    await new Promise((r) => setTimeout(r, 120));
    await client.request(head(Buffer.from('2')), Buffer.from('2'));
    expect(connections()).toBe(2);
    // The server drops its idle connections: the pool notices the close and opens a new one.
    server.closeIdleConnections();
    await vi.waitFor(() => expect(client.size).toBe(0));
    expect((await client.request(head(Buffer.from('3')), Buffer.from('3'))).body).toBe('3');
    expect(connections()).toBe(3);
  });

  it('uses an idle connection again only within the server\'s Keep-Alive timeout (less a second)', async () => {
    let keepAlive = 'timeout=1';
    const { url, connections } = await httpServer((_req, body, res) => res.writeHead(200, { 'keep-alive': keepAlive, 'content-length': body.length }).end(body));
    const client = pool(url);
    await client.request(head(Buffer.from('1')), Buffer.from('1'));
    await client.request(head(Buffer.from('2')), Buffer.from('2'));
    // timeout=1 leaves no time to use it again: each request on a new connection.
    expect(connections()).toBe(2);
    keepAlive = 'timeout=5, max=100';
    await client.request(head(Buffer.from('3')), Buffer.from('3'));
    await client.request(head(Buffer.from('4')), Buffer.from('4'));
    expect(connections()).toBe(3);
  });

  it('fails at once on an answer whose head lines end in LF only', async () => {
    const { url } = await rawServer((socket) => socket.write('HTTP/1.1 200 OK\ncontent-length: 2\n\nok'));
    const client = pool(url, { timeoutMs: 5_000 });
    const err = await failure(client.request(head(Buffer.from('x')), Buffer.from('x')));
    expect([err.kind, err.label]).toEqual(['network', 'NetworkError']);
    expect(err.message).toMatch(/not ended by CRLF/);
  });

  it('close() fails the requests under way and waiting, and refuses new ones', async () => {
    const { url } = await rawServer(() => undefined); // never answers
    const client = new Http1Pool(url, { maxSockets: 1, timeoutMs: 5_000 });
    const first = failure(client.request(head(Buffer.from('a')), Buffer.from('a')));
    const second = failure(client.request(head(Buffer.from('b')), Buffer.from('b')));
    await new Promise((r) => setTimeout(r, 50));
    client.close();
    expect((await first).message).toMatch(/pool was closed/);
    expect((await second).message).toMatch(/pool was closed/);
    expect((await failure(client.request(head(Buffer.from('c')), Buffer.from('c')))).message).toMatch(/pool is closed/);
    expect(client.size).toBe(0);
  });

  it('speaks TLS, checking the server certificate', async () => {
    const pki = createTestPki();
    closers.push(() => pki.cleanup());
    const server = createHttpsServer({ cert: readFileSync(pki.server.cert), key: readFileSync(pki.server.key) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.writeHead(200).end(`tls:${Buffer.concat(chunks).toString()}`));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
    const url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const trusted = pool(url, { ca: pki.read(pki.caFile) });
    expect(await trusted.request(head(Buffer.from('hi')), Buffer.from('hi'))).toEqual({ status: 200, body: 'tls:hi' });
    // Without the test CA the certificate is not trusted: refused, nothing sent.
    const untrusted = pool(url);
    const err = await failure(untrusted.request(head(Buffer.from('hi')), Buffer.from('hi')));
    expect(err.message).toMatch(/certificate/i);
  });
});
