// Replicas behind HAProxy: two `iot-ingest serve --proxy-protocol` processes and Debian's haproxy
// (TCP mode, /readyz health checks, send-proxy-v2), all started here on free loopback ports. A fleet
// driven through the balancer by the simulator with --verify survives a rolling restart (SIGTERM
// one replica) and a crash (SIGKILL the other) mid-run: every acknowledged reading is stored. The
// service sees the device's address from the PROXY header, not the balancer's, and refuses a
// connection that does not start with one.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { Writable } from 'node:stream';
import { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSimulate } from '../simulator/cli.ts';
import { EXIT_CODES } from '../simulator/exitCodes.ts';
import type { Summary } from '../simulator/summary.ts';
import { createDynamoClients } from '../src/storage/client.ts';
import type { DynamoClients } from '../src/storage/client.ts';
import { findFreePort, randomTableName, startDynalite, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { hasBinary, startHaproxy } from './helpers/scale-servers.ts';
import type { BackendServer, Haproxy } from './helpers/scale-servers.ts';
import { REPO_ROOT, scanAll, spawnService } from './helpers/service.ts';
import type { SpawnedService } from './helpers/service.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe.skipIf(!hasBinary('haproxy'))('replicas behind HAProxy', () => {
  let dynamo: DynamoServer;
  let clients: DynamoClients;
  let haproxy: Haproxy;
  const table = randomTableName('replicas');
  const backends: BackendServer[] = [];
  const replicas: SpawnedService[] = [];
  const everyProcess: SpawnedService[] = [];

  const startReplica = async (index: number): Promise<SpawnedService> => {
    const b = backends[index] as BackendServer;
    const s = await spawnService([
      '--mqtt-host', '127.0.0.1', '--mqtt-port', String(b.mqttPort), '--http-host', '127.0.0.1', '--http-port', String(b.httpPort),
      '--dynamodb-endpoint', dynamo.endpoint, '--table', table, '--dlq-table', `${table}-dlq`, '--proxy-protocol', '--log-level', 'debug',
    ]);
    replicas[index] = s;
    everyProcess.push(s);
    return s;
  };
  const serverUp = (name: string, want = 'UP'): Promise<true> =>
    waitFor(async () => ((await haproxy.status())[name] === want ? true : undefined), { timeoutMs: 15_000, message: `haproxy never saw ${name} ${want}` });

  beforeAll(async () => {
    dynamo = await startDynalite();
    clients = createDynamoClients({ endpoint: dynamo.endpoint, region: 'us-east-1' });
    for (const name of ['r1', 'r2']) backends.push({ name, mqttPort: await findFreePort(), httpPort: await findFreePort() });
    await startReplica(0); // creates the tables
    await startReplica(1);
    haproxy = await startHaproxy(backends);
    await serverUp('r1');
    await serverUp('r2');
  }, 60_000);
  afterAll(async () => {
    for (const s of everyProcess) s.proc.kill('SIGKILL');
    await haproxy?.stop();
    clients?.destroy();
    await dynamo?.stop();
  });

  it('the service sees the device\'s address from the PROXY header, and refuses connections without one', async () => {
    // The device connects from 127.0.0.2; HAProxy connects to the replica from 127.0.0.1.
    const client = new MqttClient(
      () => netConnect({ host: '127.0.0.1', port: haproxy.port, localAddress: '127.0.0.2' }),
      { clientId: 'proxied-dev', reconnectPeriod: 0, protocolVersion: 4, keepalive: 30, clean: true },
    );
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.publishAsync('devices/proxied-dev/telemetry', JSON.stringify({ ts: 1_700_000_000_000, v: 1 }), { qos: 1 });
    const line = await waitFor(() => replicas.map((r) => r.logs()).join('').split('\n').find((l) => l.includes('"proxied connection"') && l.includes('"address":"127.0.0.2"')), {
      timeoutMs: 5_000, message: 'no replica logged the device address',
    });
    expect(line).toBeTruthy();
    await client.endAsync();
    const items = await scanAll(clients.doc, table);
    expect(items.filter((i) => i.deviceId === 'proxied-dev')).toHaveLength(1);

    // Straight to a replica, without the header: closed before any MQTT is read.
    const direct = new MqttClient(
      () => netConnect({ host: '127.0.0.1', port: (backends[0] as BackendServer).mqttPort }),
      { clientId: 'direct-dev', reconnectPeriod: 0, protocolVersion: 4, keepalive: 30, clean: true },
    );
    const outcome = await new Promise<string>((resolve) => {
      direct.once('connect', () => resolve('connected'));
      direct.once('close', () => resolve('closed'));
    });
    direct.end(true);
    expect(outcome).toBe('closed');
    expect(replicas[0]?.logs()).toContain('PROXY protocol header expected');
  }, 30_000);

  it('a fleet through the balancer loses no acknowledged reading across a rolling restart and a crash', async () => {
    const stdout = new Capture();
    const run = runSimulate(
      ['--url', `mqtt://127.0.0.1:${haproxy.port}`, '--dynamodb-endpoint', dynamo.endpoint, '--table', table, '--json', '--quiet',
        '--prefix', 'roll', '-n', '30', '-r', '10', '-d', '16', '--reconnect-min', '200', '--reconnect-max', '1500', '--seed', '11', '--verify'],
      { stdout, stderr: new Capture(), env: {}, isTTY: false },
    );
    const storedSoFar = async (): Promise<number> => (await scanAll(clients.doc, table)).filter((i) => String(i.deviceId).startsWith('roll-')).length;
    await waitFor(async () => ((await storedSoFar()) >= 200 ? true : undefined), { timeoutMs: 20_000, message: 'the fleet did not get going' });

    // Rolling restart: SIGTERM r1 (it drains and exits 0), start it again.
    const r1 = replicas[0] as SpawnedService;
    r1.proc.kill('SIGTERM');
    expect(await r1.exited).toBe(0);
    expect(r1.logs()).toContain('"flushed":true');
    await startReplica(0);
    await serverUp('r1');
    const afterRestart = await storedSoFar();

    // Crash: SIGKILL r2 mid-stream, start it again; its devices reconnect through the balancer to r1.
    await waitFor(async () => ((await storedSoFar()) >= afterRestart + 300 ? true : undefined), { timeoutMs: 20_000, message: 'no progress after the restart' });
    const r2 = replicas[1] as SpawnedService;
    r2.proc.kill('SIGKILL');
    expect(await r2.exited).toBe('SIGKILL');
    await startReplica(1);

    const code = await run;
    const summary = JSON.parse(stdout.text) as Summary;
    expect(code).toBe(EXIT_CODES.OK);
    expect(summary.acked.readings).toBeGreaterThan(1_000);
    expect(summary.verify).toMatchObject({ ok: true, missing: 0, devices: 30 });
    const verified = summary.verify && 'stored' in summary.verify ? summary.verify : undefined;
    expect(verified?.stored).toBe(summary.acked.readings);
    // The table holds every acknowledged reading, plus at most those stored whose PUBACK the crash swallowed.
    const inTable = await storedSoFar();
    expect(inTable).toBeGreaterThanOrEqual(summary.acked.readings);
  }, 90_000);
});

describe('deployment files of the cluster setup', () => {
  it.skipIf(!hasBinary('haproxy'))('deploy/haproxy/haproxy.cfg is valid for haproxy and checks /readyz with PROXY protocol v2 towards the replicas', () => {
    const file = `${REPO_ROOT}deploy/haproxy/haproxy.cfg`;
    const check = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^\s*mode tcp$/m);
    expect(text).toMatch(/option httpchk GET \/readyz/);
    expect(text).toMatch(/default-server .*send-proxy-v2/);
  });

  it.skipIf(!hasBinary('docker-compose'))('the compose file\'s cluster profile is valid for docker-compose 1.29', () => {
    const config = spawnSync('docker-compose', ['-f', 'docker-compose.yml', '--profile', 'cluster', 'config', '--services'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(config.status, config.stderr).toBe(0);
    expect(config.stdout.split('\n')).toEqual(expect.arrayContaining(['redis', 'ingest-a', 'ingest-b', 'haproxy', 'simulator-cluster']));
  });
});
