// The hand-built BatchWriteItem request is the SDK's request: signed by the SDK's own SigV4 signer
// (re-signing it independently with @smithy/signature-v4 gives the same Authorization), with the
// same target, content type, path and body as the DynamoDBClient sends for the same items.
import { BatchWriteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../src/ingest/reading.ts';
import { LOCAL_CREDENTIALS } from '../src/storage/client.ts';
import { createHttpTransport } from '../src/storage/dynamodb/http-transport.ts';
import { batchWriteBody, encodeItem } from '../src/storage/dynamodb/wire.ts';
import { resignedAuthorization, startCaptureServer } from './helpers/capture-server.ts';
import type { CaptureServer, Seen } from './helpers/capture-server.ts';

describe('signed BatchWriteItem request', () => {
  let server: CaptureServer;
  let endpoint: string;
  let seen: Seen[];

  beforeAll(async () => {
    server = await startCaptureServer('{"UnprocessedItems":{}}');
    ({ endpoint, seen } = server);
  });
  afterAll(async () => {
    await server.close();
  });

  it('carries the signature the SDK signer computes, and the SDK client\'s target, path and body', async () => {
    const readings: Reading[] = [1, 2].map((n) => ({ deviceId: `sig-${n}`, ts: 1_732_480_000_000 + n, receivedAt: 1_732_480_000_100, sizeBytes: 1, attributes: { v: n, s: 'x y', u: 'température ✓ 温度', m: { l: [true, null] } } }));
    const transport = await createHttpTransport({ endpoint, region: 'eu-west-1' }, 'telemetry');
    await transport.send(batchWriteBody('telemetry', readings.map((r) => encodeItem(r, undefined))));
    await transport.close();
    const mine = seen.shift() as Seen;

    // Re-sign the same request, independently, with the SDK's signer at the same instant.
    expect(mine.headers.authorization).toBe(await resignedAuthorization(mine, endpoint, 'eu-west-1'));
    // The body goes out as the UTF-8 bytes that were signed (non-ASCII values included), whole.
    expect(Number(mine.headers['content-length'])).toBe(Buffer.byteLength(mine.body));
    expect(mine.body).toContain('température ✓ 温度');
    expect(mine.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=local\/\d{8}\/eu-west-1\/dynamodb\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/);

    // The SDK client's own request for the same items: same target, content type, path and body.
    const sdk = new DynamoDBClient({ region: 'eu-west-1', endpoint, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    await sdk.send(new BatchWriteItemCommand({ RequestItems: { telemetry: readings.map((r) => ({ PutRequest: { Item: JSON.parse(encodeItem(r, undefined)) } })) }, ReturnConsumedCapacity: 'TOTAL' }));
    sdk.destroy();
    const theirs = seen.shift() as Seen;
    expect(mine.method).toBe(theirs.method);
    expect(mine.url).toBe(theirs.url);
    for (const h of ['x-amz-target', 'content-type', 'host']) expect(mine.headers[h], h).toBe(theirs.headers[h]);
    expect(JSON.parse(mine.body)).toEqual(JSON.parse(theirs.body));
    const scope = (auth: unknown): string => /Credential=([^,]+)/.exec(String(auth))?.[1] ?? '';
    expect(scope(mine.headers.authorization)).toBe(scope(theirs.headers.authorization));
  });
});
