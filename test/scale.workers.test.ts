// `serve --workers 2` as a real process with the embedded store: the primary starts dynalite once
// and creates the tables, both workers take connections, /metrics sums across workers, /readyz
// covers both, a worker killed with SIGKILL is counted and restarted, and SIGTERM drains every
// worker with nothing acknowledged lost.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClients } from '../src/storage/client.ts';
import type { DynamoClients } from '../src/storage/client.ts';
import { findFreePort, startDynalite, waitFor } from './helpers/dynamo-servers.ts';
import { CLI, REPO_ROOT, metricValue, scanAll, scrape } from './helpers/service.ts';

interface Readyz {
  status: string;
  workers: Array<{ worker: number; pid: number | null; ready: boolean }>;
}

describe('serve --workers 2', () => {
  let proc: ChildProcess;
  let exited: Promise<number | string>;
  let logs = '';
  let httpUrl: string;
  let mqttUrl: string;
  let dynamo: DynamoClients;
  let dataDir: string;
  const devices: MqttClient[] = [];
  const base = Date.now() - 3_600_000;

  const readyz = async (): Promise<{ status: number; body: Readyz }> => {
    const res = await fetch(`${httpUrl}/readyz`);
    return { status: res.status, body: (await res.json()) as Readyz };
  };

  beforeAll(async () => {
    const [mqttPort, httpPort, embeddedPort] = [await findFreePort(), await findFreePort(), await findFreePort()];
    httpUrl = `http://127.0.0.1:${httpPort}`;
    mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
    dataDir = mkdtempSync(join(tmpdir(), 'iot-workers-'));
    proc = spawn(process.execPath, [CLI, 'serve', '--workers', '2', '--mqtt-host', '127.0.0.1', '--mqtt-port', String(mqttPort),
      '--http-host', '127.0.0.1', '--http-port', String(httpPort), '--embedded-port', String(embeddedPort), '--data-dir', dataDir, '--linger-ms', '5000', '--no-adaptive-flush'], {
      cwd: REPO_ROOT,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    proc.stderr?.on('data', (d: Buffer) => (logs += d.toString()));
    exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    await waitFor(async () => ((await readyz()).status === 200 ? true : undefined), { timeoutMs: 45_000, message: 'workers did not become ready' }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logs}`);
    });
    dynamo = createDynamoClients({ endpoint: `http://127.0.0.1:${embeddedPort}`, region: 'us-east-1' });
  }, 60_000);
  afterAll(async () => {
    for (const d of devices) d.end(true);
    proc?.kill('SIGKILL');
    dynamo?.destroy();
  });

  it('starts the embedded store and the tables once, in the primary', () => {
    expect(logs.match(/embedded DynamoDB-API server \(dynalite\) started/g)).toHaveLength(1);
    expect(logs.match(/"table":"telemetry","msg":"table created"/g)).toHaveLength(1);
    expect(logs.match(/"msg":"iot-ingest ready"/g)).toHaveLength(2);
  });

  it('both workers take connections; /metrics sums what they stored', async () => {
    const { body } = await readyz();
    expect(body.workers.map((w) => w.ready)).toEqual([true, true]);
    for (let i = 0; i < 20; i++) devices.push(await connectAsync(mqttUrl, { clientId: `wk-${i}`, reconnectPeriod: 0 }));
    const text = await scrape(httpUrl);
    const perWorker = [0, 1].map((w) => metricValue(text, 'iot_ingest_worker_connected_clients', { worker: String(w) }));
    expect(perWorker[0]! + perWorker[1]!).toBe(20);
    expect(perWorker[0]).toBeGreaterThan(0);
    expect(perWorker[1]).toBeGreaterThan(0);
    expect(metricValue(text, 'iot_ingest_connected_clients')).toBe(20);

    await Promise.all(devices.map((d, i) => Promise.all(Array.from({ length: 10 }, (_, k) =>
      d.publishAsync(`devices/wk-${i}/telemetry`, JSON.stringify({ ts: base + k, v: k }), { qos: 1 })))));
    const after = await scrape(httpUrl);
    expect(metricValue(after, 'iot_ingest_readings_stored_total')).toBe(200);
    expect(metricValue(after, 'iot_ingest_ready')).toBe(1);
    expect(metricValue(after, 'iot_ingest_workers', { state: 'ready' })).toBe(2);
    expect((await scanAll(dynamo.doc, 'telemetry')).length).toBe(200);
  }, 30_000);

  it('a worker that dies is counted and restarted; /readyz is 503 until it is back', async () => {
    const { body } = await readyz();
    const victim = body.workers[1]?.pid as number;
    process.kill(victim, 'SIGKILL');
    await waitFor(async () => ((await readyz()).status === 503 ? true : undefined), { timeoutMs: 5_000, message: '/readyz stayed 200 with a worker dead' });
    const back = await waitFor(async () => {
      const r = await readyz();
      return r.status === 200 ? r.body : undefined;
    }, { timeoutMs: 30_000, message: 'the worker was not restarted' });
    expect(back.workers[1]?.pid).not.toBe(victim);
    expect(metricValue(await scrape(httpUrl), 'iot_ingest_worker_restarts_total')).toBe(1);
    expect(logs).toContain('worker died; restarting it');
  }, 40_000);

  it('SIGTERM drains every worker: every acknowledged reading is stored, then the primary exits 0', async () => {
    for (const d of devices) d.end(true);
    devices.length = 0;
    for (let i = 0; i < 10; i++) devices.push(await connectAsync(mqttUrl, { clientId: `dr-${i}`, reconnectPeriod: 0 }));
    const acks = devices.flatMap((d, i) => Array.from({ length: 2 }, (_, k) =>
      d.publishAsync(`devices/dr-${i}/telemetry`, JSON.stringify({ ts: base + k, v: k }), { qos: 1 }).then(() => `dr-${i}/${base + k}`)));
    // The 5 s linger (and batches of 25 never filling) keeps them queued in both workers when the signal comes.
    await waitFor(async () => (metricValue(await scrape(httpUrl), 'iot_ingest_queue_readings') === 20 ? true : undefined), {
      timeoutMs: 4_000, message: '20 readings were not queued',
    });
    proc.kill('SIGTERM');
    const settled = await Promise.allSettled(acks);
    expect(await exited).toBe(0);
    const acked = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    expect(acked).toHaveLength(20);
    expect(logs.match(/"flushed":true/g)).toHaveLength(2);
    expect(logs).toContain('all workers stopped');
    // The embedded store is gone with the service: read its data directory back with dynalite.
    const reopened = await startDynalite({ path: join(dataDir, 'dynalite') });
    const check = createDynamoClients({ endpoint: reopened.endpoint, region: 'us-east-1' });
    try {
      const stored = new Set((await scanAll(check.doc, 'telemetry')).map((i) => `${String(i.deviceId)}/${String(i.ts)}`));
      expect(acked.filter((k) => !stored.has(k))).toEqual([]);
      expect(stored.size).toBe(220);
    } finally {
      check.destroy();
      await reopened.stop();
    }
  }, 40_000);
});
