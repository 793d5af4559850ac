// The service as a real process: SIGTERM flushes the queue before exit, SIGKILL mid-stream loses no
// acknowledged reading, and configuration errors are reported all at once with a non-zero exit.
import { connect, connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomTableName, startDynalite, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { metricValue, runCli, scanAll, spawnService } from './helpers/service.ts';
import type { SpawnedService } from './helpers/service.ts';
import { createDynamoClients } from '../src/storage/client.ts';
import type { DynamoClients } from '../src/storage/client.ts';

describe('iot-ingest serve as a process', () => {
  let dynamo: DynamoServer;
  let clients: DynamoClients;
  const running: SpawnedService[] = [];

  beforeAll(async () => {
    dynamo = await startDynalite();
    clients = createDynamoClients({ endpoint: dynamo.endpoint, region: 'us-east-1' });
  });
  afterAll(async () => {
    for (const s of running) s.proc.kill('SIGKILL');
    clients?.destroy();
    await dynamo?.stop();
  });

  const serve = async (table: string, extra: string[] = []): Promise<SpawnedService> => {
    const s = await spawnService(['--dynamodb-endpoint', dynamo.endpoint, '--table', table, '--dlq-table', `${table}-dlq`, '--http-port', '0', ...extra]);
    running.push(s);
    return s;
  };

  it('on SIGTERM stores every queued reading and releases held PUBACKs before exiting', async () => {
    const table = randomTableName('sigterm');
    // A long linger keeps the readings queued until the shutdown flush sends them.
    const svc = await serve(table, ['--mqtt-port', '0', '--linger-ms', '10000']);
    const url = `mqtt://127.0.0.1:${svc.mqttPort}`;
    const base = Date.now() - 60_000;
    const q0 = await connectAsync(url, { clientId: 'sigterm-q0', reconnectPeriod: 0 });
    for (let i = 0; i < 10; i++) await q0.publishAsync('devices/sigterm-q0/telemetry', JSON.stringify({ ts: base + i, v: i }), { qos: 0 });
    const q1 = await connectAsync(url, { clientId: 'sigterm-q1', reconnectPeriod: 0 });
    const acks = Array.from({ length: 8 }, (_, i) => q1.publishAsync('devices/sigterm-q1/telemetry', JSON.stringify({ ts: base + i, v: i }), { qos: 1 }));
    await waitFor(async () => {
      const text = await (await fetch(`http://127.0.0.1:${svc.httpPort}/metrics`)).text();
      return metricValue(text, 'iot_ingest_queue_readings') === 18;
    }, { message: '18 readings queued' });

    svc.proc.kill('SIGTERM');
    const settled = await Promise.allSettled(acks);
    expect(settled.map((s) => s.status)).toEqual(Array(8).fill('fulfilled'));
    expect(await svc.exited).toBe(0);
    const items = await scanAll(clients.doc, table);
    expect(items.filter((i) => i.deviceId === 'sigterm-q0')).toHaveLength(10);
    expect(items.filter((i) => i.deviceId === 'sigterm-q1')).toHaveLength(8);
    expect(svc.logs()).toContain('"flushed":true');
    await Promise.all([q0.endAsync(true), q1.endAsync(true)]);
  });

  it('loses no acknowledged reading when killed with SIGKILL mid-stream and restarted', async () => {
    const table = randomTableName('crash');
    const first = await serve(table, ['--mqtt-port', '0']);
    const url = `mqtt://127.0.0.1:${first.mqttPort}`;
    const acked = new Set<string>();
    const base = Date.now() - 3_600_000;
    const devices: MqttClient[] = [];
    let stop = false;
    const sent = new Map<string, number>();
    for (let d = 0; d < 6; d++) {
      const id = `crash-${d}`;
      // mqtt.js keeps unacknowledged QoS 1 messages and resends them after reconnecting.
      const c = connect(url, { clientId: id, reconnectPeriod: 250, connectTimeout: 2_000, clean: true });
      devices.push(c);
      sent.set(id, 0);
      const pump = (): void => {
        if (stop) return;
        const i = sent.get(id) as number;
        if (i - [...acked].filter((k) => k.startsWith(`${id}/`)).length > 20) {
          setTimeout(pump, 5);
          return;
        }
        sent.set(id, i + 1);
        c.publish(`devices/${id}/telemetry`, JSON.stringify({ ts: base + i, seq: i }), { qos: 1 }, (err) => {
          if (!err) acked.add(`${id}/${base + i}`);
        });
        setImmediate(pump);
      };
      c.once('connect', pump);
    }
    await waitFor(() => acked.size >= 300, { timeoutMs: 30_000, message: '300 readings acknowledged before the crash' });
    first.proc.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    const ackedBeforeCrash = acked.size;

    const second = await serve(table, ['--mqtt-port', String(first.mqttPort)]);
    await waitFor(() => acked.size >= ackedBeforeCrash + 100, { timeoutMs: 30_000, message: 'devices reconnected and resumed' });
    stop = true;
    // Every message sent gets its PUBACK once the devices have resent what the crash left unanswered.
    const total = [...sent.values()].reduce((a, b) => a + b, 0);
    await waitFor(() => acked.size === total, { timeoutMs: 30_000, message: 'every sent reading acknowledged after the restart' });
    await Promise.all(devices.map((c) => c.endAsync(true)));

    const stored = new Set((await scanAll(clients.doc, table)).map((i) => `${String(i.deviceId)}/${String(i.ts)}`));
    const missing = [...acked].filter((k) => !stored.has(k));
    expect(missing).toEqual([]);
    expect(ackedBeforeCrash).toBeGreaterThanOrEqual(300);
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 120_000);

  it('reports every configuration problem at once, naming flag and env var, and exits 2', async () => {
    const r = await runCli(['serve', '--batch-size', '26', '--ack-mode', 'sometimes', '--mqtt-port', 'x'], { LINGER_MS: '-5' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--batch-size / BATCH_SIZE');
    expect(r.stderr).toContain('must be <= 25');
    expect(r.stderr).toContain('--ack-mode / ACK_MODE');
    expect(r.stderr).toContain('--mqtt-port / MQTT_PORT');
    expect(r.stderr).toContain('--linger-ms / LINGER_MS');
    const unknown = await runCli(['serve', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/bogus/);
  });

  it('documents every setting in --help', async () => {
    const r = await runCli(['serve', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--mqtt-port', '--http-port', '--dynamodb-endpoint', '--ack-mode', '--batch-size', '--linger-ms', '--retention-days', '--max-queued-readings']) {
      expect(r.stdout).toContain(flag);
    }
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/serve[\s\S]*simulate[\s\S]*query[\s\S]*table[\s\S]*dlq/);
  });
});
