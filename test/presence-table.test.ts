// Presence's registry write: the UpdateItem request posted by the signed transport is the request
// the service's document client sends for the same attributes (same target, path, content type and
// body, re-signed independently by the SDK's signer to the same Authorization), and against a real
// DynamoDB-API server (dynalite) it stores the same item, honours the connection guard (a write for
// an older connection is superseded, not applied) and rejects other refusals with a classified error.
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePresence } from '../src/presence/table.ts';
import type { PresenceAttributes } from '../src/presence/table.ts';
import type { TelemetryItem } from '../src/storage/item.ts';
import { createDynamoClients } from '../src/storage/client.ts';
import { createSignedRequester, lazySignedRequester } from '../src/storage/dynamodb/http-transport.ts';
import { StoreError } from '../src/storage/errors.ts';
import { startDynalite } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { resignedAuthorization, startCaptureServer } from './helpers/capture-server.ts';
import type { CaptureServer, Seen } from './helpers/capture-server.ts';

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
    // An undefined member is left out, as the document client leaves it out (not a stored item's value: cast).
    nested: { a: { b: [] }, gone: undefined } as unknown as TelemetryItem,
  },
});

/**
 * The document client's request for attributes(n) and a connection guard, as presence sent it before
 * (the expressions written out here, not taken from the code under test).
 */
function sdkUpdate(table: string, deviceId: string, a: PresenceAttributes, connectAt: number): UpdateCommand {
  const keys = ['connected', 'lastSeenAt', 'lastConnectAt', 'replica', 'sourceAddress', 'lastReadingAt', 'lastReading'] as const;
  return new UpdateCommand({
    TableName: table,
    Key: { deviceId },
    UpdateExpression: 'SET #connected = :connected, #lastSeenAt = :lastSeenAt, #lastConnectAt = :lastConnectAt, #replica = :replica, #sourceAddress = :sourceAddress, #lastReadingAt = :lastReadingAt, #lastReading = :lastReading',
    ConditionExpression: 'attribute_not_exists(#lca) OR #lca <= :guard',
    ExpressionAttributeNames: { ...Object.fromEntries(keys.map((k) => [`#${k}`, k])), '#lca': 'lastConnectAt' },
    ExpressionAttributeValues: { ...Object.fromEntries(keys.map((k) => [`:${k}`, a[k]])), ':guard': connectAt },
  });
}

describe('presence UpdateItem request', () => {
  let server: CaptureServer;
  let endpoint: string;
  let seen: Seen[];

  beforeAll(async () => {
    server = await startCaptureServer('{}');
    ({ endpoint, seen } = server);
  });
  afterAll(async () => {
    await server.close();
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

    expect(mine.headers.authorization).toBe(await resignedAuthorization(mine, endpoint, 'eu-west-1'));
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
