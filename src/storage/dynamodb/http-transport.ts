// Sends DynamoDB requests (the readings' BatchWriteItem, presence's UpdateItem) as pre-built JSON
// strings, signed and posted with the AWS SDK's own pieces:
// the DynamoDBClient's resolved configuration gives the signer (@smithy/signature-v4 with the
// default credential provider chain, region and signing name exactly as the SDK would use them) and
// the endpoint (resolved once through the SDK's endpoint rules); the request goes out on a pool of
// keep-alive connections (http1-client.ts). Nothing of SigV4 or credential resolution is written
// here. What this skips is the client's per-request middleware and schema serialisation, which
// profiles showed to be most of the cost of a request, and node:http's request and response
// objects, which cost as much again. test/http-transport.test.ts checks the signature against the
// SDK's signer.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SignatureV4 } from '@smithy/signature-v4';
import type { DynamoConnection } from '../client.ts';
import { LOCAL_CREDENTIALS } from '../client.ts';
import { StoreError, toStoreError } from '../errors.ts';
import { Http1Pool } from './http1-client.ts';
import type { BatchOutcome, BatchTransport } from './transport.ts';
import { parseBatchWriteResponse } from './transport.ts';

const TARGET = 'DynamoDB_20120810.BatchWriteItem';

export interface SignedRequest {
  readonly method: 'POST';
  readonly protocol: string;
  readonly hostname: string;
  readonly port: number | undefined;
  readonly path: string;
  readonly headers: Record<string, string>;
  /** The body as UTF-8 bytes: hashed by the signer and written to the socket as they are. */
  readonly body: Uint8Array;
}

export interface RequestSigner {
  /** The request for `body` (the JSON of the `target` operation, BatchWriteItem by default, UTF-8 encoded), signed. */
  sign(body: Uint8Array, target?: string): Promise<SignedRequest>;
  readonly url: URL;
}

/** Builds the signer from a DynamoDBClient's resolved configuration (credentials chain, region, endpoint). */
export async function createRequestSigner(conn: DynamoConnection, env: NodeJS.ProcessEnv = {}): Promise<RequestSigner> {
  const hasEnvCredentials = Boolean(env.AWS_ACCESS_KEY_ID) || Boolean(env.AWS_PROFILE);
  const client = new DynamoDBClient({
    region: conn.region,
    ...(conn.endpoint ? { endpoint: conn.endpoint } : {}),
    ...(conn.endpoint && !hasEnvCredentials ? { credentials: LOCAL_CREDENTIALS } : {}),
  });
  const signer = (await client.config.signer({ name: 'sigv4', properties: {} } as never)) as SignatureV4;
  const region = await client.config.region();
  const url = conn.endpoint
    ? new URL(conn.endpoint)
    : new URL(client.config.endpointProvider({ Region: region, UseFIPS: await client.config.useFipsEndpoint(), UseDualStack: await client.config.useDualstackEndpoint() }).url.href);
  const path = url.pathname || '/';
  const port = url.port === '' ? undefined : Number(url.port);
  const { protocol, hostname, host } = url;
  // The region is resolved once above: handing it to the signer spares its provider call per
  // request (the value is the one the signer's own provider gives).
  const options = { signingRegion: region };
  return {
    url,
    async sign(body, target = TARGET) {
      const request = {
        method: 'POST' as const,
        protocol,
        hostname,
        port,
        path,
        query: {},
        headers: { host, 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': target, 'content-length': String(body.byteLength) },
        body,
      };
      const signed = await signer.sign(request, options);
      return { method: 'POST', protocol, hostname, port, path, headers: signed.headers as Record<string, string>, body };
    },
  };
}

/** Signed DynamoDB JSON requests on a keep-alive pool: the answer's body on 200, a translated StoreError otherwise. */
export interface SignedRequester {
  request(target: string, body: string): Promise<string>;
  close(): void;
}

export async function createSignedRequester(conn: DynamoConnection, env: NodeJS.ProcessEnv = {}): Promise<SignedRequester> {
  const signer = await createRequestSigner(conn, env);
  const pool = new Http1Pool(signer.url, { maxSockets: conn.maxSockets ?? 64, timeoutMs: conn.requestTimeoutMs ?? 10_000 });
  return {
    async request(target, requestBody) {
      // UTF-8 once: the signer hashes these bytes and the socket writes them as they are (a string
      // body would be encoded again by each, and measured once more for content-length).
      let answer: { readonly status: number; readonly body: string };
      try {
        const signed = await signer.sign(Buffer.from(requestBody, 'utf8'), target);
        answer = await pool.request(requestHead(signed), signed.body);
      } catch (err) {
        // Credentials that do not resolve, a head refused, a socket's failure: classified once here.
        throw toStoreError(err);
      }
      if (answer.status === 200) return answer.body;
      throw responseError(answer.status, answer.body);
    },
    close: () => pool.close(),
  };
}

/**
 * A SignedRequester made on its first request (so that a service can hold one before its store is
 * reachable); a failure to make it fails that request and the next request tries again.
 */
export function lazySignedRequester(conn: DynamoConnection, env: NodeJS.ProcessEnv = {}): SignedRequester {
  let made: Promise<SignedRequester> | undefined;
  let closed = false;
  return {
    async request(target, body) {
      if (closed) throw new StoreError('network', 'NetworkError', 'the DynamoDB connection pool is closed');
      made ??= createSignedRequester(conn, env).catch((err: unknown) => {
        made = undefined;
        throw toStoreError(err);
      });
      return (await made).request(target, body);
    },
    close() {
      closed = true;
      void made?.then((r) => r.close(), () => undefined);
    },
  };
}

export async function createHttpTransport(conn: DynamoConnection, tableName: string, env: NodeJS.ProcessEnv = {}): Promise<BatchTransport> {
  const requester = await createSignedRequester(conn, env);
  return {
    tableName,
    send: async (requestBody) => parseBatchWriteResponse(await requester.request(TARGET, requestBody), tableName),
    async close() {
      requester.close();
    },
  };
}

const LINE_BREAK = /[\r\n]/;

/** The request line and headers of a signed request. */
export function requestHead(r: SignedRequest): string {
  let head = `${r.method} ${r.path} HTTP/1.1\r\n`;
  for (const name in r.headers) {
    const value = r.headers[name] as string;
    // A credential or endpoint with a line break would split the head: refused, not sent.
    if (LINE_BREAK.test(value) || LINE_BREAK.test(name)) throw new Error(`header ${JSON.stringify(name)} holds a line break`);
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

/** An error answer of the DynamoDB JSON protocol, translated as the SDK's error of that name would be. */
export function responseError(status: number, body: string): StoreError {
  let name = `Http${status}`;
  let message = body.slice(0, 300);
  try {
    const parsed = JSON.parse(body) as { __type?: string; message?: string; Message?: string };
    if (parsed.__type) name = parsed.__type.slice(parsed.__type.lastIndexOf('#') + 1);
    message = parsed.message ?? parsed.Message ?? message;
  } catch {
    // Not JSON (a proxy's page): the status decides.
  }
  const sdkLike = Object.assign(new Error(message), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
  return toStoreError(sdkLike);
}

export type { BatchOutcome };
