// Start-up and storage lifecycle: readiness follows DynamoDB's reachability, the embedded default
// keeps its data under the data directory across restarts, and retention writes expiresAt.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort, startDynalite, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { startFaultProxy } from './helpers/fault-proxy.ts';
import { spawnService, startTestService } from './helpers/service.ts';


describe('lifecycle', () => {
  let dynamo: DynamoServer;
  const dirs: string[] = [];

  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    await dynamo?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('answers /healthz but not /readyz until DynamoDB is reachable, then becomes ready', async () => {
    const proxy = await startFaultProxy(dynamo.endpoint);
    proxy.setFaults({ outage: true });
    const httpPort = await findFreePort();
    const starting = startTestService(proxy.endpoint, { httpPort });
    try {
      const http = `http://127.0.0.1:${httpPort}`;
      await waitFor(async () => (await fetch(`${http}/healthz`)).status === 200, { message: '/healthz answers while DynamoDB is down' });
      expect((await fetch(`${http}/readyz`)).status).toBe(503);
      expect(await (await fetch(`${http}/metrics`)).text()).toMatch(/^iot_ingest_ready 0$/m);
      proxy.setFaults({});
      const svc = await starting;
      expect((await fetch(`${http}/readyz`)).status).toBe(200);
      await svc.stop();
    } finally {
      await proxy.stop();
    }
  });

  it('with no endpoint starts the embedded DynamoDB-API server and keeps its data across restarts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'iot-ingest-data-'));
    dirs.push(dataDir);
    const args = ['--mqtt-port', '0', '--http-port', '0', '--embedded-port', '0', '--data-dir', dataDir];
    const first = await spawnService(args);
    expect(first.logs()).toContain('embedded DynamoDB-API server (dynalite) started');
    const c = await connectAsync(`mqtt://127.0.0.1:${first.mqttPort}`, { clientId: 'embedded-1', reconnectPeriod: 0 });
    const ts = Date.now() - 1_000;
    await c.publishAsync('devices/embedded-1/telemetry', JSON.stringify({ ts, temperature: 19.5 }), { qos: 1 });
    await c.endAsync();
    first.proc.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await spawnService(args);
    try {
      const res = await fetch(`http://127.0.0.1:${second.httpPort}/devices/embedded-1/readings?from=0`);
      const body = (await res.json()) as { items: { ts: number; temperature: number }[] };
      expect(body.items).toEqual([expect.objectContaining({ ts, temperature: 19.5 })]);
    } finally {
      second.proc.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  });

  it('with --retention-days writes expiresAt in epoch seconds (TTL setup on dynalite is a warning)', async () => {
    const svc = await startTestService(dynamo.endpoint, { retentionDays: 7 });
    try {
      const c = await connectAsync(svc.mqttUrl, { clientId: 'retained', reconnectPeriod: 0 });
      const ts = Date.now() - 5_000;
      await c.publishAsync('devices/retained/telemetry', JSON.stringify({ ts, v: 1 }), { qos: 1 });
      await c.endAsync();
      const res = await fetch(`${svc.httpUrl}/devices/retained/readings?from=0`);
      const [item] = ((await res.json()) as { items: { expiresAt: number }[] }).items;
      expect(item?.expiresAt).toBe(Math.floor(ts / 1000) + 7 * 86_400);
    } finally {
      await svc.stop();
    }
  });
});
