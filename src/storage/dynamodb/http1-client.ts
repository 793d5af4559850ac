// A keep-alive HTTP/1.1 client for the writer's one origin, DynamoDB's endpoint: it sends a request
// head and body and reads back a status and a body, nothing more. It exists because node:http cost
// about 150 µs of CPU per BatchWriteItem exchange on the writer thread (ClientRequest, the agent,
// IncomingMessage streams and their events) where this costs about half; undici cost more than
// node:http (bench/README.md, "Writer thread"). TLS and certificate checks are node:tls's, as
// node:https uses them; SigV4 and credentials stay the SDK's (http-transport.ts).
//
// Up to `maxSockets` connections, one request at a time on each (no pipelining), kept open while the
// server keeps them and used again, the most recently used first; a connection idle longer than
// `idleTimeoutMs` is closed instead of used (servers drop idle connections, and a request written
// into one that is closing fails). An answer is read by content-length, chunked, or until the server
// closes; 1xx answers are skipped. A server's `Keep-Alive: timeout=N` shortens how long an idle
// connection is used again (to N - 1 s, as node:http's agent does). Every failure costs that
// connection only and rejects with a StoreError: a reset, a refusal, a close before the answer is
// whole, no answer within `timeoutMs`, or an answer that is not HTTP/1.x or larger than
// `maxResponseBytes` are network errors, which are retried; socket errors are classified as they
// were with node:http (toStoreError: a certificate that does not verify is not retried).
import { connect as netConnect, isIP } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { StoreError, toStoreError } from '../errors.ts';

export interface Http1Response {
  readonly status: number;
  readonly body: string;
}

export interface Http1Options {
  readonly maxSockets: number;
  /** No complete answer within this time: the request fails and its connection is closed. */
  readonly timeoutMs: number;
  /** An idle connection older than this is closed rather than used again. */
  readonly idleTimeoutMs?: number;
  /** Answers larger than this are refused (the connection is closed). */
  readonly maxResponseBytes?: number;
  /** https: the certificates to trust instead of Node's (which NODE_EXTRA_CA_CERTS extends). */
  readonly ca?: string;
}

interface Request {
  readonly head: string;
  readonly body: Uint8Array;
  readonly resolve: (response: Http1Response) => void;
  readonly reject: (err: Error) => void;
}

const CRLF2 = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');
const LF2 = Buffer.from('\n\n');
const MAX_HEAD_BYTES = 64 * 1024;
const DEFAULT_IDLE_TIMEOUT_MS = 4_000;
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

const enum Body { Length, Chunked, UntilClose }

export class Http1Pool {
  private readonly idle: Connection[] = [];
  private readonly open = new Set<Connection>();
  private readonly waiting: Request[] = [];
  private closed = false;
  readonly idleTimeoutMs: number;
  readonly maxResponseBytes: number;

  constructor(
    readonly url: URL,
    readonly options: Http1Options,
  ) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported protocol ${url.protocol}`);
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  /** Sends `head` (request line and headers, ending with an empty line) and `body`; resolves with the answer. */
  request(head: string, body: Uint8Array): Promise<Http1Response> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new StoreError('network', 'NetworkError', 'the DynamoDB connection pool is closed'));
      const request: Request = { head, body, resolve, reject };
      const connection = this.takeIdle();
      if (connection !== undefined) return connection.send(request);
      if (this.open.size < this.options.maxSockets) return this.connect().send(request);
      this.waiting.push(request);
    });
  }

  /** Closes every connection; requests still waiting or under way fail. */
  close(): void {
    this.closed = true;
    for (const request of this.waiting.splice(0)) request.reject(new StoreError('network', 'NetworkError', 'the DynamoDB connection pool was closed'));
    for (const connection of [...this.open]) connection.destroy(new StoreError('network', 'NetworkError', 'the DynamoDB connection pool was closed'));
  }

  /** Connections open now (in use or idle). */
  get size(): number {
    return this.open.size;
  }

  /** A connection finished its request and can take another. */
  released(connection: Connection): void {
    const next = this.waiting.shift();
    if (next !== undefined) return connection.send(next);
    connection.idleUntil = performance.now() + Math.min(this.idleTimeoutMs, connection.serverIdleMs);
    connection.socket.unref();
    this.idle.push(connection);
  }

  /** A connection closed (by either side). */
  removed(connection: Connection): void {
    this.open.delete(connection);
    const at = this.idle.indexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
    const next = this.waiting.shift();
    if (next !== undefined) this.connect().send(next);
  }

  private takeIdle(): Connection | undefined {
    const now = performance.now();
    for (let c = this.idle.pop(); c !== undefined; c = this.idle.pop()) {
      if (now < c.idleUntil) {
        c.socket.ref();
        return c;
      }
      c.destroy(undefined);
    }
    return undefined;
  }

  private connect(): Connection {
    const { hostname, port, protocol } = this.url;
    const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    const socket =
      protocol === 'https:'
        ? tlsConnect({ host, port: port === '' ? 443 : Number(port), ALPNProtocols: ['http/1.1'], ...(isIP(host) === 0 ? { servername: host } : {}), ...(this.options.ca === undefined ? {} : { ca: this.options.ca }) })
        : netConnect({ host, port: port === '' ? 80 : Number(port) });
    socket.setNoDelay(true);
    const connection = new Connection(this, socket);
    this.open.add(connection);
    return connection;
  }
}

/** One connection and the answer it is reading. */
class Connection {
  /** Used again only before this (performance.now()). */
  idleUntil = 0;
  /** How long the server keeps an idle connection (its Keep-Alive: timeout, less a second). */
  serverIdleMs = Infinity;
  private request: Request | undefined;
  private timer: NodeJS.Timeout | undefined;
  private gone = false;
  // The answer being read.
  private inHead = true;
  private buffered: Buffer | undefined;
  private status = 0;
  private bodyKind = Body.Length;
  private remaining = 0;
  private keepAlive = true;
  private bodyChunks: Buffer[] = [];
  private bodyBytes = 0;
  /** The answer being read is whole (set by complete, read by onData). */
  private answered = false;

  constructor(
    private readonly pool: Http1Pool,
    readonly socket: Socket,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.destroy(toStoreError(err)));
    socket.on('close', () => this.onClose());
  }

  send(request: Request): void {
    this.request = request;
    this.inHead = true;
    this.buffered = undefined;
    this.bodyChunks = [];
    this.bodyBytes = 0;
    this.timer = setTimeout(() => this.destroy(new StoreError('network', 'TimeoutError', `no answer from DynamoDB within ${this.pool.options.timeoutMs} ms`)), this.pool.options.timeoutMs);
    this.socket.cork();
    this.socket.write(request.head, 'latin1');
    this.socket.write(request.body);
    this.socket.uncork();
  }

  /** Closes the connection; the request under way, if any, fails with `err`. */
  destroy(err: Error | undefined): void {
    if (this.gone) return;
    this.gone = true;
    this.fail(err ?? new StoreError('network', 'NetworkError', 'the connection to DynamoDB was closed'));
    this.socket.destroy();
    this.pool.removed(this);
  }

  private onClose(): void {
    if (this.gone) return;
    if (this.request !== undefined && !this.inHead && this.bodyKind === Body.UntilClose) this.complete();
    this.destroy(new StoreError('network', 'NetworkError', 'DynamoDB closed the connection before its answer was complete'));
  }

  private fail(err: Error): void {
    this.take()?.reject(err);
  }

  /** The request under way, no longer under way (its timer stopped); undefined when there is none. */
  private take(): Request | undefined {
    const request = this.request;
    if (request === undefined) return undefined;
    this.request = undefined;
    clearTimeout(this.timer);
    return request;
  }

  private protocolError(message: string): void {
    this.destroy(new StoreError('network', 'NetworkError', `unreadable answer from DynamoDB: ${message}`));
  }

  private onData(chunk: Buffer): void {
    if (this.request === undefined) return this.protocolError('data while no request is under way');
    let data = this.buffered === undefined ? chunk : Buffer.concat([this.buffered, chunk]);
    this.buffered = undefined;
    this.answered = false;
    while (data.length > 0 && !this.answered && !this.gone) {
      if (this.inHead) {
        const end = data.indexOf(CRLF2);
        if (end < 0) {
          if (data.length > MAX_HEAD_BYTES) return this.protocolError('response head too large');
          if (data.indexOf(LF2) >= 0) return this.protocolError('response head lines not ended by CRLF');
          this.buffered = data;
          return;
        }
        if (!this.readHead(data.toString('latin1', 0, end))) return;
        data = data.subarray(end + 4);
        continue;
      }
      switch (this.bodyKind) {
        case Body.Length: {
          const take = Math.min(this.remaining, data.length);
          if (!this.addBody(data.subarray(0, take))) return;
          this.remaining -= take;
          data = data.subarray(take);
          if (this.remaining === 0) this.complete();
          break;
        }
        case Body.UntilClose:
          if (!this.addBody(data)) return;
          data = data.subarray(data.length);
          break;
        default: {
          const rest = this.readChunked(data);
          if (rest === undefined) return;
          data = rest;
        }
      }
    }
    if (!this.answered || this.gone) return;
    // The answer is whole: nothing may follow it (one request at a time), and the connection is
    // used again unless either side said it closes.
    if (data.length > 0) this.protocolError('more data than the answer');
    else if (this.keepAlive) this.pool.released(this);
    else this.destroy(undefined);
  }

  /** Reads the status line and headers; false when the connection was closed for them. */
  private readHead(head: string): boolean {
    const lines = head.split('\r\n');
    const statusLine = lines[0] as string;
    const match = /^HTTP\/1\.([01]) (\d{3})/.exec(statusLine);
    if (match === null) {
      this.protocolError(`status line ${JSON.stringify(statusLine.slice(0, 40))}`);
      return false;
    }
    const status = Number(match[2]);
    if (status >= 100 && status < 200) return true; // 100 Continue and the like: the answer follows
    let length: number | undefined;
    let chunked = false;
    let connection = '';
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d+$/.test(value) || (length !== undefined && length !== Number(value))) {
          this.protocolError(`content-length ${JSON.stringify(value)}`);
          return false;
        }
        length = Number(value);
      } else if (name === 'transfer-encoding') chunked = value.toLowerCase().split(',').some((v) => v.trim() === 'chunked');
      else if (name === 'connection') connection = value.toLowerCase();
      else if (name === 'keep-alive') {
        const timeout = /(?:^|[,\s])timeout=(\d+)/i.exec(value);
        if (timeout !== null) this.serverIdleMs = Number(timeout[1]) * 1000 - 1000;
      }
    }
    this.status = status;
    this.inHead = false;
    this.keepAlive = match[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    if (status === 204 || status === 304) {
      this.bodyKind = Body.Length;
      this.remaining = 0;
      this.complete();
    } else if (chunked) {
      this.bodyKind = Body.Chunked;
      this.remaining = -1; // before a chunk-size line
    } else if (length !== undefined) {
      this.bodyKind = Body.Length;
      this.remaining = length;
      if (length > this.pool.maxResponseBytes) {
        this.protocolError(`answer of ${length} bytes, limit ${this.pool.maxResponseBytes}`);
        return false;
      }
      if (length === 0) this.complete();
    } else {
      this.bodyKind = Body.UntilClose;
      this.keepAlive = false;
    }
    return true;
  }

  /**
   * Reads chunked data from `data`: returns what follows the answer (or an empty buffer), or
   * undefined when more bytes are needed (kept) or the connection was closed.
   * `remaining`: bytes of the current chunk still to read (+2 for its CRLF), -1 before a size line,
   * -2 after the last chunk (trailers until an empty line).
   */
  private readChunked(data: Buffer): Buffer | undefined {
    while (data.length > 0) {
      if (this.remaining === -1) {
        const eol = data.indexOf(CRLF);
        if (eol < 0) {
          if (data.length > 1024) this.protocolError('chunk size line too long');
          else this.buffered = data;
          return undefined;
        }
        const sizeText = data.toString('latin1', 0, eol).split(';')[0]?.trim() ?? '';
        if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) {
          this.protocolError(`chunk size ${JSON.stringify(sizeText.slice(0, 20))}`);
          return undefined;
        }
        const size = parseInt(sizeText, 16);
        data = data.subarray(eol + 2);
        this.remaining = size === 0 ? -2 : size + 2;
        continue;
      }
      if (this.remaining === -2) {
        // Trailers, if any, end with an empty line; none: the CRLF right away.
        if (data.length < 2) {
          this.buffered = data;
          return undefined;
        }
        if (data[0] === 0x0d && data[1] === 0x0a) {
          this.complete();
          return data.subarray(2);
        }
        const end = data.indexOf(CRLF2);
        if (end < 0) {
          if (data.length > MAX_HEAD_BYTES) this.protocolError('trailers too large');
          else this.buffered = data;
          return undefined;
        }
        this.complete();
        return data.subarray(end + 4);
      }
      // Chunk data, then its CRLF.
      const dataLeft = this.remaining - 2;
      if (dataLeft > 0) {
        const take = Math.min(dataLeft, data.length);
        if (!this.addBody(data.subarray(0, take))) return undefined;
        this.remaining -= take;
        data = data.subarray(take);
        continue;
      }
      // The chunk's data is read (remaining is 2): its CRLF.
      if (data.length < 2) {
        this.buffered = data;
        return undefined;
      }
      if (data[0] !== 0x0d || data[1] !== 0x0a) {
        this.protocolError('chunk not followed by CRLF');
        return undefined;
      }
      data = data.subarray(2);
      this.remaining = -1;
    }
    return data;
  }

  private addBody(part: Buffer): boolean {
    this.bodyBytes += part.length;
    if (this.bodyBytes > this.pool.maxResponseBytes) {
      this.protocolError(`answer larger than ${this.pool.maxResponseBytes} bytes`);
      return false;
    }
    if (part.length > 0) this.bodyChunks.push(part);
    return true;
  }

  private complete(): void {
    const request = this.take();
    if (request === undefined) return;
    const chunks = this.bodyChunks;
    const body = chunks.length === 0 ? '' : (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString('utf8');
    this.bodyChunks = [];
    this.answered = true;
    request.resolve({ status: this.status, body });
  }
}
