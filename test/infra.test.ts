// Proves the integration-test helpers against real servers: dynalite and AWS DynamoDB Local in
// child processes, and the fault proxy in front of each, driven by the real AWS SDK.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createDynamoClients } from '../src/storage/client.ts';
import { randomTableName, startDynalite, startDynamoDbLocal, waitFor } from './helpers/dynamo-servers.ts';
import { startFaultProxy } from './helpers/fault-proxy.ts';
import type { DynamoClients } from '../src/storage/client.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import type { FaultProxy } from './helpers/fault-proxy.ts';

const REGION = 'us-east-1';

interface Reading {
  deviceId: string;
  ts: number;
  temperature: number;
}

function readings(deviceId: string, count: number, firstTs = 1_732_480_000_000): Reading[] {
  return Array.from({ length: count }, (_, i) => ({ deviceId, ts: firstTs + i, temperature: 20 + i / 10 }));
}

function putBatch(table: string, items: readonly Reading[]): BatchWriteCommand {
  return new BatchWriteCommand({ RequestItems: { [table]: items.map((Item) => ({ PutRequest: { Item } })) } });
}

async function storedTs(doc: DynamoClients['doc'], table: string, deviceId: string): Promise<number[]> {
  const out = await doc.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'deviceId = :d',
      ExpressionAttributeValues: { ':d': deviceId },
      ConsistentRead: true,
    }),
  );
  return (out.Items ?? []).map((item) => Number(item.ts)).sort((a, b) => a - b);
}

/** The fields a writer would classify an SDK error by. */
async function errorOf(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (err) {
    const e = err as Error & { code?: string; $fault?: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, code: e.code, fault: e.$fault, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the request to fail');
}

function portRefuses(endpoint: string): Promise<boolean> {
  const url = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

describe('waitFor', () => {
  it('resolves with the first truthy value', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), { intervalMs: 1 });
    expect(value).toEqual({ calls: 3 });
  });

  it('throws the message on timeout, with the last error as cause', async () => {
    const boom = new Error('not yet');
    const err = await waitFor(
      () => {
        throw boom;
      },
      { timeoutMs: 30, intervalMs: 5, message: 'table never became ACTIVE' },
    ).catch((e: unknown) => e as Error);
    expect(err.message).toMatch(/^table never became ACTIVE \(waited 30 ms\)$/);
    expect(err.cause).toBe(boom);
  });
});

describe.each([
  { kind: 'dynalite', start: (): Promise<DynamoServer> => startDynalite() },
  { kind: 'dynamodb-local', start: (): Promise<DynamoServer> => startDynamoDbLocal() },
] as const)('$kind behind the fault proxy', ({ kind, start }) => {
  let server: DynamoServer;
  let proxy: FaultProxy;
  let direct: DynamoClients;
  let viaProxy: DynamoClients;
  let table: string;
  let startMs: number;

  beforeAll(async () => {
    const t0 = performance.now();
    server = await start();
    startMs = performance.now() - t0;
    proxy = await startFaultProxy(server.endpoint);
    direct = createDynamoClients({ endpoint: server.endpoint, region: REGION });
    // maxSockets 2: many requests must share a few keep-alive sockets through the proxy.
    viaProxy = createDynamoClients({ endpoint: proxy.endpoint, region: REGION, maxSockets: 2 });
    table = randomTableName('infra');
    await viaProxy.client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'deviceId', KeyType: 'HASH' },
          { AttributeName: 'ts', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'deviceId', AttributeType: 'S' },
          { AttributeName: 'ts', AttributeType: 'N' },
        ],
      }),
    );
    await waitFor(
      async () => {
        const out = await direct.client.send(new DescribeTableCommand({ TableName: table }));
        return out.Table?.TableStatus === 'ACTIVE';
      },
      { timeoutMs: 10_000, message: `table ${table} never became ACTIVE` },
    );
  });

  afterAll(async () => {
    viaProxy?.destroy();
    direct?.destroy();
    await proxy?.stop();
    await server?.stop();
  });

  it('runs in a child process on an ephemeral 127.0.0.1 port', async () => {
    expect(server.kind).toBe(kind);
    expect(server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.endpoint).not.toBe('http://127.0.0.1:4567');
    expect(server.endpoint).not.toBe('http://127.0.0.1:8000');
    const tables = await direct.client.send(new ListTablesCommand({}));
    expect(tables.TableNames).toContain(table);
    console.log(`${kind}: started and answering in ${Math.round(startMs)} ms`);
  });

  it('unprocessedShare 0.5: half the batch comes back in UnprocessedItems and only the rest is stored', async () => {
    proxy.resetStats();
    proxy.setFaults({ unprocessedShare: 0.5 });
    const items = readings('dev-partial', 10);
    const out = await viaProxy.doc.send(putBatch(table, items));

    const unprocessed = out.UnprocessedItems?.[table] ?? [];
    expect(unprocessed).toHaveLength(5);
    expect(proxy.stats.itemsUnprocessed).toBe(5);
    expect(proxy.stats.faults.unprocessed).toBe(1);
    // Real DynamoDB shape: { PutRequest: { Item } }, items unchanged.
    const unprocessedTs = unprocessed.map((w) => Number(w.PutRequest?.Item?.ts)).sort((a, b) => a - b);
    for (const w of unprocessed) expect(items).toContainEqual(w.PutRequest?.Item);

    const stored = await storedTs(direct.doc, table, 'dev-partial');
    expect(stored).toHaveLength(5);
    expect(stored.filter((ts) => unprocessedTs.includes(ts))).toEqual([]);
    expect([...stored, ...unprocessedTs].sort((a, b) => a - b)).toEqual(items.map((r) => r.ts));

    // Resending only the unprocessed items, without faults, completes the batch.
    proxy.setFaults({});
    const retry = await viaProxy.doc.send(new BatchWriteCommand({ RequestItems: { [table]: unprocessed } }));
    expect(retry.UnprocessedItems ?? {}).toEqual({});
    expect(await storedTs(direct.doc, table, 'dev-partial')).toEqual(items.map((r) => r.ts));
  });

  it('unprocessedShare 1: nothing is forwarded and every item comes back', async () => {
    proxy.resetStats();
    proxy.setFaults({ unprocessedShare: 1 });
    const items = readings('dev-all-unprocessed', 3);
    const out = await viaProxy.doc.send(putBatch(table, items));
    expect(out.UnprocessedItems?.[table]).toHaveLength(3);
    expect(proxy.stats.forwarded).toBe(0);
    expect(await storedTs(direct.doc, table, 'dev-all-unprocessed')).toEqual([]);
  });

  it('unprocessedShare < 1 on one-item batches: resending converges', async () => {
    proxy.setFaults({ unprocessedShare: 0.5 });
    let pending = readings('dev-converge', 8).map((Item) => ({ PutRequest: { Item } }));
    for (let round = 0; pending.length > 0 && round < 100; round++) {
      const out = await viaProxy.doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
      pending = (out.UnprocessedItems?.[table] ?? []) as typeof pending;
    }
    expect(pending).toEqual([]);
    expect(await storedTs(direct.doc, table, 'dev-converge')).toHaveLength(8);
  });

  it('throttleShare 1: ProvisionedThroughputExceededException (400), nothing forwarded', async () => {
    proxy.resetStats();
    proxy.setFaults({ throttleShare: 1 });
    const err = await errorOf(viaProxy.doc.send(putBatch(table, readings('dev-throttled', 2))));
    expect(err).toEqual({ name: 'ProvisionedThroughputExceededException', code: undefined, fault: 'client', status: 400 });
    expect(proxy.stats.faults.throttle).toBe(1);
    expect(proxy.stats.forwarded).toBe(0);
    expect(await storedTs(direct.doc, table, 'dev-throttled')).toEqual([]);

    // Other throttling errors DynamoDB can return.
    proxy.setFaults({ throttleShare: 1, throttleError: 'ThrottlingException' });
    expect(await errorOf(viaProxy.doc.send(putBatch(table, readings('dev-throttled', 1))))).toMatchObject({
      name: 'ThrottlingException',
      status: 400,
    });
    proxy.setFaults({ throttleShare: 1, throttleError: 'RequestLimitExceeded' });
    expect(await errorOf(viaProxy.doc.send(putBatch(table, readings('dev-throttled', 1))))).toMatchObject({
      name: 'RequestLimitExceeded',
      status: 400,
    });

    // Faults apply only to the listed operations: a Query still passes.
    expect(await storedTs(viaProxy.doc, table, 'dev-throttled')).toEqual([]);
    expect(proxy.stats.requests.Query).toBe(1);
  });

  it('serverErrorShare 1: InternalServerError with HTTP 500', async () => {
    proxy.resetStats();
    proxy.setFaults({ serverErrorShare: 1 });
    const err = await errorOf(viaProxy.doc.send(putBatch(table, readings('dev-500', 2))));
    expect(err).toEqual({ name: 'InternalServerError', code: undefined, fault: 'server', status: 500 });
    expect(proxy.stats.faults.serverError).toBe(1);
    expect(await storedTs(direct.doc, table, 'dev-500')).toEqual([]);
  });

  it('outage: a network error (socket reset), not a DynamoDB service error, for every operation', async () => {
    proxy.resetStats();
    proxy.setFaults({ outage: true });
    const batchErr = await errorOf(viaProxy.doc.send(putBatch(table, readings('dev-outage', 2))));
    const listErr = await errorOf(viaProxy.client.send(new ListTablesCommand({})));
    // The SDK's HTTP handler renames ECONNRESET/EPIPE/ETIMEDOUT errors to 'TimeoutError'.
    for (const err of [batchErr, listErr]) {
      expect(err.name).toBe('TimeoutError');
      expect(['ECONNRESET', 'EPIPE']).toContain(err.code);
      expect(err.status).toBeUndefined();
      expect(err.fault).toBeUndefined();
    }
    expect(proxy.stats.faults.outage).toBeGreaterThanOrEqual(2);
    expect(proxy.stats.forwarded).toBe(0);
    expect(await storedTs(direct.doc, table, 'dev-outage')).toEqual([]);
  });

  it('delayMs: forwarding waits; requestTimeout alone only warns, throwOnRequestTimeout makes it TimeoutError', async () => {
    proxy.setFaults({ delayMs: 400 });
    const t0 = performance.now();
    await viaProxy.doc.send(putBatch(table, readings('dev-delay', 1)));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(390);

    const warnings: string[] = [];
    const clientWith = (throwOnRequestTimeout: boolean): DynamoDBClient =>
      new DynamoDBClient({
        region: REGION,
        endpoint: proxy.endpoint,
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 1,
        requestHandler: new NodeHttpHandler({
          requestTimeout: 100,
          throwOnRequestTimeout,
          logger: { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m), error: () => {} },
        }),
      });
    proxy.setFaults({ delayMs: 400, operations: ['ListTables'] });
    const lenient = clientWith(false);
    const strict = clientWith(true);
    try {
      await expect(lenient.send(new ListTablesCommand({}))).resolves.toBeDefined();
      expect(warnings.join('\n')).toMatch(/exceeded the configured 100 ms requestTimeout/);
      expect(await errorOf(strict.send(new ListTablesCommand({})))).toMatchObject({ name: 'TimeoutError', code: 'ETIMEDOUT' });
    } finally {
      lenient.destroy();
      strict.destroy();
    }
  });

  it('after the faults are cleared everything passes through on a few keep-alive sockets', async () => {
    proxy.resetStats();
    proxy.setFaults({});
    for (let i = 0; i < 20; i++) {
      const out = await viaProxy.doc.send(putBatch(table, readings('dev-clear', 25, 1_732_480_000_000 + i * 25)));
      expect(out.UnprocessedItems ?? {}).toEqual({});
    }
    expect(await storedTs(direct.doc, table, 'dev-clear')).toHaveLength(500);
    expect(proxy.stats.requests.BatchWriteItem).toBe(20);
    expect(proxy.stats.faults).toEqual({ unprocessed: 0, throttle: 0, serverError: 0, validation: 0, outage: 0, delayed: 0 });
  });
});

describe('stop()', () => {
  it('ends the server child and the proxy: their ports refuse connections', async () => {
    const server = await startDynalite();
    const proxy = await startFaultProxy(server.endpoint);
    const clients = createDynamoClients({ endpoint: proxy.endpoint, region: REGION });
    await clients.client.send(new ListTablesCommand({}));
    // The client's idle keep-alive socket to the proxy is still open; stop() must not wait for it.
    await proxy.stop();
    clients.destroy();
    await server.stop();
    expect(await portRefuses(proxy.endpoint)).toBe(true);
    expect(await portRefuses(server.endpoint)).toBe(true);
    await server.stop(); // idempotent
  });
});
