// A real HTTP proxy in front of a DynamoDB-API endpoint (dynalite, DynamoDB Local) that injects the
// faults neither local server ever produces: partially processed batches, throttling, 5xx, outages
// and latency. The AWS SDK signs the body (SigV4), but local servers do not check signatures, so
// the proxy may rewrite a request body.
//
// What the AWS SDK v3 throws for each fault (client-dynamodb 3.1169, @smithy/node-http-handler
// 4.14, maxAttempts 1, Node 20), asserted in test/infra.test.ts. Classify by `name`, then `code`:
//   throttleShare (default throttleError)  -> name 'ProvisionedThroughputExceededException',
//                                             $metadata.httpStatusCode 400, $fault 'client'
//   throttleError 'ThrottlingException'    -> name 'ThrottlingException', 400, $fault 'client'
//   throttleError 'RequestLimitExceeded'   -> name 'RequestLimitExceeded', 400, $fault 'client'
//   serverErrorShare                       -> name 'InternalServerError', 500, $fault 'server'
//   outage (socket destroyed, no answer)   -> name 'TimeoutError', code 'ECONNRESET',
//                                             message 'socket hang up', no $metadata/$fault: the
//                                             SDK renames every ECONNRESET/EPIPE/ETIMEDOUT
//                                             network error to 'TimeoutError'
//   delayMs > the handler's requestTimeout -> NO error by default (a console WARN, the request
//                                             completes late); only with NodeHttpHandler
//                                             { throwOnRequestTimeout: true }: name
//                                             'TimeoutError', code 'ETIMEDOUT'
//   unprocessedShare                       -> no error: a 200 whose UnprocessedItems holds the
//                                             write requests that were not forwarded
// A target that is down (proxy cannot connect) is passed on as a reset, like an outage.
import { createServer, request as httpRequest, Agent } from 'node:http';
import { crc32 } from 'node:zlib';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export const THROTTLE_ERRORS = {
  ProvisionedThroughputExceededException: {
    type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
    message: 'The level of configured provisioned throughput for the table was exceeded.',
  },
  ThrottlingException: {
    type: 'com.amazon.coral.availability#ThrottlingException',
    message: 'Rate of requests exceeds the allowed throughput.',
  },
  RequestLimitExceeded: {
    type: 'com.amazonaws.dynamodb.v20120810#RequestLimitExceeded',
    message: 'Throughput exceeds the current throughput limit for your account.',
  },
} as const;

export type ThrottleErrorName = keyof typeof THROTTLE_ERRORS;

export interface Faults {
  /** Operations the per-request faults apply to (default ['BatchWriteItem']); `outage` hits all. */
  readonly operations?: readonly string[];
  /**
   * BatchWriteItem only: share (0..1) of write requests left out of the forwarded batch and
   * reported back in `UnprocessedItems`. A batch of n > 1 loses round(share * n) of them, at least
   * 1 and, while share < 1, at most n - 1; a single-item batch loses its item with probability
   * `share`. So with share < 1, resending the unprocessed items always makes progress.
   */
  readonly unprocessedShare?: number;
  /** Share (0..1) of requests answered 400 with a throttling error, not forwarded. */
  readonly throttleShare?: number;
  /** Which throttling error (default ProvisionedThroughputExceededException). */
  readonly throttleError?: ThrottleErrorName;
  /** Share (0..1) of requests answered 500 InternalServerError, not forwarded. */
  readonly serverErrorShare?: number;
  /** Every incoming connection and request is reset (socket destroyed), for all operations. */
  readonly outage?: boolean;
  /** Delay before forwarding, in ms. */
  readonly delayMs?: number;
  /**
   * A request whose body contains this text is refused as a whole with a 400 ValidationException,
   * as DynamoDB refuses a batch holding one item it will not take (the error names no item).
   */
  readonly rejectBodyContaining?: string;
}

export interface FaultProxyStats {
  /** Requests seen, by operation (`X-Amz-Target` suffix). */
  readonly requests: Record<string, number>;
  forwarded: number;
  readonly faults: {
    unprocessed: number;
    throttle: number;
    serverError: number;
    validation: number;
    outage: number;
    delayed: number;
  };
  /** Write requests left out of forwarded batches and returned as UnprocessedItems. */
  itemsUnprocessed: number;
}

export interface FaultProxy {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  /** Live counters (the same object throughout, until resetStats). */
  readonly stats: FaultProxyStats;
  setFaults(faults: Faults): void;
  resetStats(): void;
  stop(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Source of randomness in [0, 1) (default Math.random); pass a seeded one for repeatable runs. */
  readonly random?: () => number;
}

type WriteRequest = Record<string, unknown>;
interface BatchWriteBody {
  RequestItems?: Record<string, WriteRequest[]>;
  [key: string]: unknown;
}

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'expect', 'host'];

export async function startFaultProxy(targetEndpoint: string, opts: FaultProxyOptions = {}): Promise<FaultProxy> {
  const target = new URL(targetEndpoint);
  const random = opts.random ?? Math.random;
  const upstreamAgent = new Agent({ keepAlive: true, maxSockets: 256 });
  const sockets = new Set<Socket>();
  let faults: Faults = {};
  let stats = emptyStats();

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });
  // Longer than the client's idle keep-alive, so the client never reuses a socket we just closed.
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.on('connection', (socket) => {
    if (faults.outage) {
      stats.faults.outage++;
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
    stats.requests[operation] = (stats.requests[operation] ?? 0) + 1;
    if (faults.outage) {
      stats.faults.outage++;
      req.socket.destroy();
      return;
    }
    const body = await readBody(req);
    const current = faults;
    const applies = (current.operations ?? ['BatchWriteItem']).includes(operation);
    if (applies) {
      if ((current.delayMs ?? 0) > 0) {
        stats.faults.delayed++;
        await sleep(current.delayMs ?? 0);
        if (res.destroyed) return;
      }
      if (chance(current.throttleShare)) {
        stats.faults.throttle++;
        const name = current.throttleError ?? 'ProvisionedThroughputExceededException';
        const { type, message } = THROTTLE_ERRORS[name];
        sendJson(res, 400, { __type: type, message }, { 'x-amzn-ErrorType': name });
        return;
      }
      if (current.rejectBodyContaining !== undefined && body.includes(current.rejectBodyContaining)) {
        stats.faults.validation++;
        sendJson(
          res,
          400,
          { __type: 'com.amazon.coral.validate#ValidationException', message: 'One or more parameter values were invalid' },
          { 'x-amzn-ErrorType': 'ValidationException' },
        );
        return;
      }
      if (chance(current.serverErrorShare)) {
        stats.faults.serverError++;
        sendJson(
          res,
          500,
          { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'Internal server error' },
          { 'x-amzn-ErrorType': 'InternalServerError' },
        );
        return;
      }
      if (operation === 'BatchWriteItem' && (current.unprocessedShare ?? 0) > 0) {
        await forwardPartialBatch(req, res, body, current.unprocessedShare ?? 0);
        return;
      }
    }
    const upstream = await forward(req, body);
    res.writeHead(upstream.status, upstream.headers);
    res.end(upstream.body);
  }

  async function forwardPartialBatch(req: IncomingMessage, res: ServerResponse, body: Buffer, share: number): Promise<void> {
    let parsed: BatchWriteBody;
    try {
      parsed = JSON.parse(body.toString('utf8')) as BatchWriteBody;
    } catch {
      parsed = {};
    }
    const requestItems = parsed.RequestItems ?? {};
    const all = Object.entries(requestItems).flatMap(([table, writes]) =>
      (Array.isArray(writes) ? writes : []).map((write) => ({ table, write })),
    );
    const removeCount = countToRemove(all.length, share);
    if (removeCount === 0) {
      const upstream = await forward(req, body);
      res.writeHead(upstream.status, upstream.headers);
      res.end(upstream.body);
      return;
    }
    const removed = new Set(pickIndexes(all.length, removeCount));
    const kept: Record<string, WriteRequest[]> = {};
    const unprocessed: Record<string, WriteRequest[]> = {};
    all.forEach(({ table, write }, i) => {
      const into = removed.has(i) ? unprocessed : kept;
      (into[table] ??= []).push(write);
    });
    stats.faults.unprocessed++;
    stats.itemsUnprocessed += removeCount;

    let status = 200;
    let headers: IncomingHttpHeaders = { 'content-type': JSON_CONTENT_TYPE };
    let response: Record<string, unknown> = { UnprocessedItems: {} };
    if (Object.keys(kept).length > 0) {
      // Tables whose writes were all removed are left out: an empty list is a ValidationException.
      const upstream = await forward(req, Buffer.from(JSON.stringify({ ...parsed, RequestItems: kept })));
      if (upstream.status !== 200) {
        // The forwarded part failed as a whole: pass the failure on, as DynamoDB would.
        res.writeHead(upstream.status, upstream.headers);
        res.end(upstream.body);
        return;
      }
      status = upstream.status;
      headers = upstream.headers;
      response = JSON.parse(upstream.body.toString('utf8')) as Record<string, unknown>;
    }
    const merged = { ...((response.UnprocessedItems as Record<string, WriteRequest[]> | undefined) ?? {}) };
    for (const [table, writes] of Object.entries(unprocessed)) merged[table] = [...(merged[table] ?? []), ...writes];
    const out = Buffer.from(JSON.stringify({ ...response, UnprocessedItems: merged }));
    res.writeHead(status, {
      ...headers,
      'content-type': JSON_CONTENT_TYPE,
      'content-length': String(out.length),
      'x-amz-crc32': String(crc32(out)),
    });
    res.end(out);
  }

  interface Upstream {
    status: number;
    headers: IncomingHttpHeaders;
    body: Buffer;
  }

  /** Forwards to the target; retries once when a reused keep-alive socket turns out closed. */
  async function forward(req: IncomingMessage, body: Buffer, retried = false): Promise<Upstream> {
    const headers: IncomingHttpHeaders = { ...req.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    // Plain bodies only: the partial-batch path parses the response.
    delete headers['accept-encoding'];
    headers['content-length'] = String(body.length);
    headers.host = target.host;
    try {
      return await new Promise<Upstream>((resolve, reject) => {
        const up = httpRequest(
          {
            protocol: target.protocol,
            hostname: target.hostname,
            port: target.port,
            path: req.url ?? '/',
            method: req.method ?? 'POST',
            headers,
            agent: upstreamAgent,
          },
          (upRes) => {
            readBody(upRes).then((buf) => {
              const resHeaders: IncomingHttpHeaders = { ...upRes.headers };
              for (const h of HOP_BY_HOP) delete resHeaders[h];
              resHeaders['content-length'] = String(buf.length);
              stats.forwarded++;
              resolve({ status: upRes.statusCode ?? 502, headers: resHeaders, body: buf });
            }, reject);
          },
        );
        up.once('error', (err: NodeJS.ErrnoException) => {
          (err as NodeJS.ErrnoException & { reusedSocket?: boolean }).reusedSocket = up.reusedSocket;
          reject(err);
        });
        up.end(body);
      });
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { reusedSocket?: boolean };
      if (!retried && e.reusedSocket && e.code === 'ECONNRESET') return forward(req, body, true);
      throw err;
    }
  }

  function chance(share: number | undefined): boolean {
    return (share ?? 0) > 0 && random() < (share ?? 0);
  }

  function countToRemove(n: number, share: number): number {
    if (n === 0 || share <= 0) return 0;
    if (share >= 1) return n;
    if (n === 1) return random() < share ? 1 : 0;
    return Math.min(n - 1, Math.max(1, Math.round(share * n)));
  }

  /** k distinct indexes out of 0..n-1 (partial Fisher-Yates). */
  function pickIndexes(n: number, k: number): number[] {
    const idx = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(random() * (n - i));
      [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
    }
    return idx.slice(0, k);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy has no TCP address');

  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    get stats(): FaultProxyStats {
      return stats;
    },
    setFaults(f: Faults): void {
      faults = { ...f };
    },
    resetStats(): void {
      stats = emptyStats();
    },
    stop(): Promise<void> {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        upstreamAgent.destroy();
      });
    },
  };
}

function emptyStats(): FaultProxyStats {
  return {
    requests: {},
    forwarded: 0,
    faults: { unprocessed: 0, throttle: 0, serverError: 0, validation: 0, outage: 0, delayed: 0 },
    itemsUnprocessed: 0,
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  const buf = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': String(buf.length),
    'x-amz-crc32': String(crc32(buf)),
    'x-amzn-RequestId': `fault-proxy-${Date.now().toString(36)}`,
    ...headers,
  });
  res.end(buf);
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
