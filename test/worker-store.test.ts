// The threaded store: requests cross to a worker thread and back with their outcome or their
// error's classifying fields; a dead worker's requests fail as retriable network errors and the
// next request starts a new worker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { classifyError } from '../src/storage/errors.ts';
import { ensureTable, telemetryTableSpec } from '../src/storage/tables.ts';
import { createDynamoClients } from '../src/storage/client.ts';
import { createThreadedTelemetryStore } from '../src/storage/worker-store.ts';
import { randomTableName, startDynalite } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { startFaultProxy } from './helpers/fault-proxy.ts';
import type { FaultProxy } from './helpers/fault-proxy.ts';
import { scanAll } from './helpers/service.ts';

describe('threaded telemetry store', () => {
  let dynamo: DynamoServer;
  let proxy: FaultProxy;
  const table = randomTableName('threaded');

  beforeAll(async () => {
    dynamo = await startDynalite();
    proxy = await startFaultProxy(dynamo.endpoint);
    const { client, destroy } = createDynamoClients({ endpoint: dynamo.endpoint, region: 'us-east-1' });
    await ensureTable(client, telemetryTableSpec(table), { create: true, log: pino({ level: 'silent' }) });
    destroy();
  });
  afterAll(async () => {
    await proxy?.stop();
    await dynamo?.stop();
  });

  it('writes through the worker, passes errors back classifiable, and survives the worker dying', async () => {
    const store = createThreadedTelemetryStore({ endpoint: proxy.endpoint, region: 'us-east-1' }, table, {});
    try {
      const ts = Date.now() - 1_000;
      expect(await store.writeBatch([{ deviceId: 'w-1', ts, v: 1, nested: { a: [1, 2] } }])).toMatchObject({ unprocessed: [] });

      proxy.setFaults({ throttleShare: 1 });
      const throttled = await store.writeBatch([{ deviceId: 'w-1', ts: ts + 1, v: 2 }]).catch((e: unknown) => e);
      expect(classifyError(throttled)).toMatchObject({ kind: 'throttled', code: 'ProvisionedThroughputExceededException' });

      proxy.setFaults({ delayMs: 1_000 });
      const inFlight = store.writeBatch([{ deviceId: 'w-1', ts: ts + 2, v: 3 }]).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 100));
      await store.terminateWorker();
      expect(classifyError(await inFlight)).toMatchObject({ kind: 'network', retriable: true });

      proxy.setFaults({});
      expect(await store.writeBatch([{ deviceId: 'w-1', ts: ts + 3, v: 4 }])).toMatchObject({ unprocessed: [] });
      const { doc, destroy } = createDynamoClients({ endpoint: dynamo.endpoint, region: 'us-east-1' });
      const items = await scanAll(doc, table);
      destroy();
      expect(items.find((i) => i.ts === ts)).toMatchObject({ v: 1, nested: { a: [1, 2] } });
      expect(items.some((i) => i.ts === ts + 3)).toBe(true);
    } finally {
      await store.close();
    }
  });
});
