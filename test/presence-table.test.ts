// Presence's registry write: the UpdateItem request posted by the signed transport is the request
// the service's document client sends for the same attributes (same target, path, content type and
// body, re-signed independently by the SDK's signer to the same Authorization), and against a real
// DynamoDB-API server (dynalite) it stores the same item, honours the connection guard (a write for
// an older connection is superseded, not applied) and rejects other refusals with a classified error.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presenceUpdateBody, writePresence } from '../src/presence/table.ts';
import type { PresenceAttributes } from '../src/presence/table.ts';
import { createDynamoClients, LOCAL_CREDENTIALS } from '../src/storage/client.ts';
import { createSignedRequester, lazySignedRequester } from '../src/storage/dynamodb/http-transport.ts';
import { StoreError } from '../src/storage/errors.ts';
import { startDynalite } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';

interface Seen {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

const attributes = (n: number): PresenceAttributes => ({
  connected: true,
  lastSeenAt: 1_732_480_000_000 + n,
  lastConnectAt: 1_732_480_000_000 + n,
  replica: 'host-a:1',
  sourceAddress: '10.0.0.7',
  disconnectReason: undefined,
  lastReadingAt: 1_732_480_000_500,
  lastReading: {
    deviceId: `pt-${n}`,
    ts: 1_732_479_999_000,
    big: 1e16,
    small: -0.125,
    label: 'température ✓',
    empty: '',
    on: false,
    none: null,
    list: [1, 'two', [true, null], {}],
    nested: { a: { b: [] }, gone: undefined },
  },
});

/** The document client's request for the same write (what presence sent before). */
function sdkUpdate(table: string, deviceId: string, a: PresenceAttributes, connectAt: number | undefined): UpdateCommand {
  const body = JSON.parse(presenceUpdateBody(table, deviceId, a, connectAt) as string) as { UpdateExpression: string; ConditionExpression?: string; ExpressionAttributeNames: Record<string, string> };
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(a)) if (value !== undefined) values[`:${key}`] = value;
  if (connectAt !== undefined) values[':guard'] = connectAt;
  return new UpdateCommand({
    TableName: table,
    Key: { deviceId },
    UpdateExpression: body.UpdateExpression,
    ...(body.ConditionExpression ? { ConditionExpression: body.ConditionExpression } : {}),
    ExpressionAttributeNames: body.ExpressionAttributeNames,
    ExpressionAttributeValues: values,
  });
}

describe('presence UpdateItem request', () => {
  let server: Server;
  let endpoint: string;
  const seen: Seen[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('is the document client\'s request, signed as the SDK signs it', async () => {
    const requester = await createSignedRequester({ endpoint, region: 'eu-west-1' });
    expect(await writePresence(requester, 'devices', 'pt-1', attributes(1), 1_732_480_000_001)).toBe(true);
    requester.close();
    const mine = seen.shift() as Seen;

    const clients = createDynamoClients({ endpoint, region: 'eu-west-1' });
    await clients.doc.send(sdkUpdate('devices', 'pt-1', attributes(1), 1_732_480_000_001));
    clients.destroy();
    const theirs = seen.shift() as Seen;
    expect(mine.headers['x-amz-target']).toBe('DynamoDB_20120810.UpdateItem');
    for (const h of ['x-amz-target', 'content-type', 'host']) expect(mine.headers[h], h).toBe(theirs.headers[h]);
    expect(mine.url).toBe(theirs.url);
    expect(JSON.parse(mine.body)).toEqual(JSON.parse(theirs.body));
    expect(mine.body).toContain('"big":{"N":"10000000000000000"}');

    const amzDate = String(mine.headers['x-amz-date']);
    const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
    const signer = new SignatureV4({ service: 'dynamodb', region: 'eu-west-1', credentials: LOCAL_CREDENTIALS, sha256: new DynamoDBClient({ region: 'eu-west-1' }).config.sha256 });
    const url = new URL(endpoint);
    const resigned = await signer.sign(
      {
        method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: mine.url, query: {},
        headers: { host: String(mine.headers.host), 'content-type': String(mine.headers['content-type']), 'x-amz-target': String(mine.headers['x-amz-target']), 'content-length': String(mine.headers['content-length']) },
        body: mine.body,
      },
      { signingDate },
    );
    expect(mine.headers.authorization).toBe(resigned.headers.authorization);
  });

  it('sends nothing when there is nothing to write', async () => {
    const requester = await createSignedRequester({ endpoint, region: 'eu-west-1' });
    expect(await writePresence(requester, 'devices', 'pt-0', { disconnectReason: undefined }, 5)).toBe(true);
    requester.close();
    expect(seen).toHaveLength(0);
  });
});

describe('presence writes against dynalite', () => {
  let dynamo: DynamoServer;
  let clients: ReturnType<typeof createDynamoClients>;

  beforeAll(async () => {
    dynamo = await startDynalite();
    clients = createDynamoClients({ endpoint: dynamo.endpoint, region: 'us-east-1' });
    await clients.client.send(new CreateTableCommand({ TableName: 'devices', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'deviceId', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'deviceId', KeyType: 'HASH' }] }));
  });
  afterAll(async () => {
    clients?.destroy();
    await dynamo?.stop();
  });

  it('stores what the document client stores, and a write for an older connection is superseded', async () => {
    const requester = lazySignedRequester({ endpoint: dynamo.endpoint, region: 'us-east-1' });
    expect(await writePresence(requester, 'devices', 'pt-2', attributes(2), 1_732_480_000_002)).toBe(true);
    await clients.doc.send(sdkUpdate('devices', 'pt-3', attributes(2), 1_732_480_000_002));
    const get = async (id: string): Promise<Record<string, unknown> | undefined> => (await clients.doc.send(new GetCommand({ TableName: 'devices', Key: { deviceId: id } }))).Item;
    const mine = await get('pt-2');
    expect(mine).toEqual({ ...(await get('pt-3')), deviceId: 'pt-2' });
    expect(mine).toMatchObject({ connected: true, lastConnectAt: 1_732_480_000_002, lastReading: { big: 1e16, list: [1, 'two', [true, null], {}], nested: { a: { b: [] } } } });

    // A disconnect of an older connection (connectAt 1) arrives after the newer connect: not applied.
    expect(await writePresence(requester, 'devices', 'pt-2', { connected: false, disconnectReason: 'client' }, 1)).toBe(false);
    expect(await get('pt-2')).toMatchObject({ connected: true });
    // The same for the current connection is applied.
    expect(await writePresence(requester, 'devices', 'pt-2', { connected: false, disconnectReason: 'client' }, 1_732_480_000_002)).toBe(true);
    expect(await get('pt-2')).toMatchObject({ connected: false, disconnectReason: 'client' });

    // Any other refusal rejects with its class: a table that does not exist.
    const err = await writePresence(requester, 'no-such-table', 'pt-2', { connected: true }, undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ kind: 'fatal', label: 'ResourceNotFoundException', retriable: false });
    requester.close();
    await expect(requester.request('DynamoDB_20120810.UpdateItem', '{}')).rejects.toMatchObject({ kind: 'network' });
  });
});
