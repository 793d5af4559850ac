// A loopback HTTP server that keeps every request it receives and answers each with a fixed JSON
// body, and an independent re-signing of a kept request with the SDK's SigV4 signer: the tests of
// the hand-built DynamoDB requests compare what went out with what the SDK would send and sign.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SignatureV4 } from '@smithy/signature-v4';
import { LOCAL_CREDENTIALS } from '../../src/storage/client.ts';

export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface CaptureServer {
  readonly endpoint: string;
  /** The requests received so far, oldest first (take them with shift()). */
  readonly seen: Seen[];
  close(): Promise<void>;
}

export async function startCaptureServer(answer: string): Promise<CaptureServer> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The Authorization the SDK's signer gives `request` (local credentials), at the instant it was signed. */
export async function resignedAuthorization(request: Seen, endpoint: string, region: string): Promise<string | undefined> {
  const sha256 = new DynamoDBClient({ region }).config.sha256;
  const signer = new SignatureV4({ service: 'dynamodb', region, credentials: LOCAL_CREDENTIALS, sha256 });
  const amzDate = String(request.headers['x-amz-date']);
  const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  const url = new URL(endpoint);
  const resigned = await signer.sign(
    {
      method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: request.url, query: {},
      headers: { host: String(request.headers.host), 'content-type': String(request.headers['content-type']), 'x-amz-target': String(request.headers['x-amz-target']), 'content-length': String(request.headers['content-length']) },
      body: request.body,
    },
    { signingDate },
  );
  return resigned.headers.authorization;
}
