// The store is supervised: the embedded DynamoDB-API server killed with SIGKILL mid-stream is
// restarted on the same port and data directory, /readyz answers 503 and then 200 again, the
// death and restart are logged and counted, and every reading a device got a PUBACK for is stored.
// An external endpoint that stops answering makes /readyz 503 too, until it answers again.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { createDynamoClients } from '../src/storage/client.ts';
import { randomTableName, waitFor } from './helpers/dynamo-servers.ts';
import { startFaultedService } from './helpers/faulted-service.ts';
import type { FaultedService } from './helpers/faulted-service.ts';
import { metricValue, scanAll, scrape, spawnService } from './helpers/service.ts';
import type { SpawnedService } from './helpers/service.ts';

interface Readiness {
  status: number;
  body: { status: string; store?: string; embeddedStore?: { endpoint: string; pid: number | null; restarts: number } };
}

/** The store child's thread-pool size, as the system sees the process. */
function childThreadpool(pid: number): string | undefined {
  const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  return env.find((e) => e.startsWith('UV_THREADPOOL_SIZE='))?.slice('UV_THREADPOOL_SIZE='.length);
}

async function readyz(httpUrl: string): Promise<Readiness> {
  const res = await fetch(`${httpUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as Readiness['body'] };
}

describe('supervised embedded store', () => {
  let svc: SpawnedService | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'iot-ingest-supervision-'));
  afterAll(async () => {
    if (svc && svc.proc.exitCode === null) {
      svc.proc.kill('SIGTERM');
      await svc.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('restarts the embedded store after SIGKILL; /readyz 503 then 200; every acknowledged reading is stored', { timeout: 120_000 }, async () => {
    const table = randomTableName('telemetry');
    const running = await spawnService([
      '--data-dir', dataDir, '--embedded-port', '0', '--table', table, '--dlq-table', `${table}-dlq`,
      '--mqtt-host', '127.0.0.1', '--mqtt-port', '0', '--http-host', '127.0.0.1', '--http-port', '0',
      '--store-probe-interval-ms', '200',
    ], { UV_THREADPOOL_SIZE: '4' }); // the service's own setting must not reach the store's process
    svc = running;
    const httpUrl = `http://127.0.0.1:${running.httpPort}`;
    const first = await readyz(httpUrl);
    expect(first.status).toBe(200);
    const firstPid = first.body.embeddedStore?.pid as number;
    const endpoint = first.body.embeddedStore?.endpoint as string;
    expect(firstPid).toBeGreaterThan(0);
    expect(childThreadpool(firstPid)).toBe('1');

    // Three devices publish QoS 1 readings one after the other; mqtt.js resends what was not
    // acknowledged after a reconnect. A reading counts as acknowledged once its PUBACK arrived.
    const acked = new Map<string, Set<number>>();
    let publishing = true;
    const base = Date.now() - 120_000;
    const devices: MqttClient[] = [];
    const loops = [0, 1, 2].map(async (d) => {
      const id = `sup-${d}`;
      const c = await connectAsync(`mqtt://127.0.0.1:${running.mqttPort}`, { clientId: id, reconnectPeriod: 200, connectTimeout: 5_000 });
      devices.push(c);
      const mine = new Set<number>();
      acked.set(id, mine);
      for (let i = 0; publishing; i++) {
        await c.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ ts: base + i, v: i }), { qos: 1 });
        mine.add(base + i);
      }
    });
    const total = (): number => [...acked.values()].reduce((a, s) => a + s.size, 0);
    await waitFor(() => total() >= 60, { timeoutMs: 20_000, message: 'readings acknowledged before the kill' });

    process.kill(firstPid, 'SIGKILL');
    const seen503 = await waitFor(async () => {
      const r = await readyz(httpUrl);
      return r.status === 503 ? r : undefined;
    }, { timeoutMs: 10_000, intervalMs: 20, message: '/readyz answered 503 after the kill' });
    expect(seen503.body.store).toBe('unreachable');
    const back = await waitFor(async () => {
      const r = await readyz(httpUrl);
      return r.status === 200 ? r : undefined;
    }, { timeoutMs: 30_000, message: '/readyz answered 200 again' });
    expect(back.body.embeddedStore?.endpoint).toBe(endpoint); // same port
    expect(back.body.embeddedStore?.pid).not.toBe(firstPid);
    expect(childThreadpool(back.body.embeddedStore?.pid as number)).toBe('1');
    expect(back.body.embeddedStore?.restarts).toBe(1);

    // Traffic flows again after the restart.
    const afterRestart = total();
    await waitFor(() => total() >= afterRestart + 60, { timeoutMs: 30_000, message: 'readings acknowledged after the restart' });
    publishing = false;
    await Promise.all(loops);
    await Promise.all(devices.map((c) => c.endAsync()));

    const text = await scrape(httpUrl);
    expect(metricValue(text, 'iot_ingest_embedded_store_restarts_total')).toBe(1);
    expect(metricValue(text, 'iot_ingest_store_up')).toBe(1);
    const logs = running.logs();
    expect(logs).toContain('embedded DynamoDB-API server died');
    expect(logs).toContain('embedded DynamoDB-API server restarted');
    expect(logs).toContain('DynamoDB-API store unreachable');

    const clients = createDynamoClients({ endpoint, region: 'us-east-1' });
    try {
      const items = await scanAll(clients.doc, table);
      const stored = new Set(items.map((r) => `${String(r.deviceId)}/${String(r.ts)}`));
      let checked = 0;
      for (const [id, set] of acked) {
        for (const ts of set) {
          expect(stored.has(`${id}/${ts}`)).toBe(true);
          checked++;
        }
      }
      expect(checked).toBe(total());
    } finally {
      clients.destroy();
    }
    running.proc.kill('SIGTERM');
    expect(await running.exited).toBe(0);
  });
});

describe('external store readiness', () => {
  let env: FaultedService | undefined;
  afterAll(async () => {
    await env?.stop();
  });

  it('answers 503 while an external endpoint stops answering, 200 once it answers again', async () => {
    env = await startFaultedService({ storeProbeIntervalMs: 200 });
    const { proxy, svc } = env;
    expect((await readyz(svc.httpUrl)).status).toBe(200);
    expect(metricValue(await scrape(svc.httpUrl), 'iot_ingest_store_up')).toBe(1);

    proxy.setFaults({ outage: true });
    const down = await waitFor(async () => {
      const r = await readyz(svc.httpUrl);
      return r.status === 503 ? r : undefined;
    }, { timeoutMs: 10_000, message: '/readyz 503 during the outage' });
    expect(down.body.store).toBe('unreachable');
    expect(down.body.embeddedStore).toBeUndefined();
    expect(metricValue(await scrape(svc.httpUrl), 'iot_ingest_store_up')).toBe(0);
    expect(metricValue(await scrape(svc.httpUrl), 'iot_ingest_ready')).toBe(0);

    proxy.setFaults({});
    await waitFor(async () => (await readyz(svc.httpUrl)).status === 200, { timeoutMs: 10_000, message: '/readyz 200 after the outage' });
    expect(metricValue(await scrape(svc.httpUrl), 'iot_ingest_store_up')).toBe(1);
  });
});
