// Every MQTT listener over real sockets, with certificates made here by openssl: MQTT/TLS with
// client certificates (mtls: good, foreign CA, expired, none, wrong client id, SAN URI identity,
// registry refusal), WebSocket and secure WebSocket with mqtt.js and with the simulator, and
// mosquitto_pub with --cafile/--cert/--key. Each reading is read back from the table.
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { connect as mqttConnect, connectAsync } from 'mqtt';
import { WebSocket } from 'ws';
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSimulate } from '../simulator/cli.ts';
import { EXIT_CODES } from '../simulator/exitCodes.ts';
import type { Summary } from '../simulator/summary.ts';
import { createTestPki } from './helpers/certs.ts';
import type { TestPki } from './helpers/certs.ts';
import { startDynalite } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { metricValue, scrape, startTestService } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

const run = promisify(execFile);

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

let server: DynamoServer;
let pki: TestPki;
const clients: MqttClient[] = [];

async function connect(url: string, options: IClientOptions): Promise<MqttClient> {
  const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5_000, keepalive: 30, ...options });
  clients.push(client);
  return client;
}

/** Connects and expects a refusal (an error, or a close before CONNACK); returns the error. */
function refused(url: string, options: IClientOptions): Promise<Error & { code?: unknown }> {
  const client = mqttConnect(url, { reconnectPeriod: 0, connectTimeout: 5_000, keepalive: 30, ...options });
  clients.push(client);
  return new Promise((resolve) => {
    client.once('connect', () => resolve(new Error(`connected unexpectedly (${String(options.clientId)})`)));
    client.once('error', (err) => resolve(err as Error & { code?: unknown }));
    client.once('close', () => resolve(new Error('closed before CONNACK')));
  });
}

async function stored(svc: TestService, deviceId: string, ts: number): Promise<Record<string, unknown> | undefined> {
  const res = await svc.clients.doc.send(new GetCommand({ TableName: svc.config.tableName, Key: { deviceId, ts }, ConsistentRead: true }));
  return res.Item;
}

beforeAll(async () => {
  pki = createTestPki();
  server = await startDynalite();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  await server?.stop();
  pki?.cleanup();
});

describe('listeners of one broker: tcp (none), tls (mtls by CN), ws (none), wss (none)', () => {
  let svc: TestService;
  let ports: Record<string, number>;
  const tlsUrl = (): string => `mqtts://127.0.0.1:${ports.tls}`;

  beforeAll(async () => {
    svc = await startTestService(server.endpoint, {
      tlsPort: 0, tlsAuth: 'mtls', tlsCert: pki.server.cert, tlsKey: pki.server.key, tlsCa: pki.caFile,
      wsPort: 0, wssPort: 0,
    });
    ports = svc.service.mqttPorts as Record<string, number>;
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('enables each listener on its own port', () => {
    expect(Object.keys(ports).sort()).toEqual(['tcp', 'tls', 'ws', 'wss']);
    expect(new Set(Object.values(ports)).size).toBe(4);
  });

  it('mtls: a client certificate from the CA stores readings under its CN (mqtt.js)', async () => {
    const good = pki.client('thermo-1');
    const client = await connect(tlsUrl(), { clientId: 'thermo-1', ca: pki.read(pki.caFile), cert: pki.read(good.cert), key: pki.read(good.key) });
    const ts = Date.now() - 1_000;
    await client.publishAsync('devices/thermo-1/telemetry', JSON.stringify({ ts, temperature: 21.5 }), { qos: 1 });
    expect(await stored(svc, 'thermo-1', ts)).toMatchObject({ deviceId: 'thermo-1', ts, temperature: 21.5 });
    await client.endAsync();
  });

  it('mtls: mosquitto_pub with --cafile/--cert/--key stores a reading', async () => {
    const cert = pki.client('thermo-2');
    const ts = Date.now() - 2_000;
    await run('mosquitto_pub', [
      '-h', '127.0.0.1', '-p', String(ports.tls), '--cafile', pki.caFile, '--cert', cert.cert, '--key', cert.key,
      '-i', 'thermo-2', '-q', '1', '-t', 'devices/thermo-2/telemetry', '-m', JSON.stringify({ ts, humidity: 40 }),
    ], { timeout: 15_000 });
    expect(await stored(svc, 'thermo-2', ts)).toMatchObject({ deviceId: 'thermo-2', ts, humidity: 40 });
  });

  it.each([
    ['signed by another CA', { signer: 'other' as const }],
    ['expired', { expired: true }],
    ['absent', undefined],
  ])('mtls: a client certificate %s fails the TLS handshake and is counted', async (_name, options) => {
    const before = metricValue(await scrape(svc.httpUrl), 'iot_ingest_tls_handshake_failures_total', { listener: 'tls' });
    const id = `bad-${Math.random().toString(36).slice(2, 8)}`;
    const cert = options === undefined ? undefined : pki.client(id, options);
    const err = await refused(tlsUrl(), {
      clientId: id, ca: pki.read(pki.caFile), ...(cert ? { cert: pki.read(cert.cert), key: pki.read(cert.key) } : {}),
    });
    expect(err.message).not.toMatch(/connected unexpectedly/);
    const after = metricValue(await scrape(svc.httpUrl), 'iot_ingest_tls_handshake_failures_total', { listener: 'tls' });
    expect(after - before).toBe(1);
  });

  it('mtls: a client id other than the certificate\'s device id gets CONNACK 2', async () => {
    const cert = pki.client('thermo-3');
    const err = await refused(tlsUrl(), { clientId: 'thermo-4', ca: pki.read(pki.caFile), cert: pki.read(cert.cert), key: pki.read(cert.key) });
    expect(err.code).toBe(2);
  });

  it('ws: mqtt.js over ws:// stores readings end to end', async () => {
    const client = await connect(`ws://127.0.0.1:${ports.ws}/mqtt`, { clientId: 'ws-dev-1' });
    const ts = Date.now() - 3_000;
    await client.publishAsync('devices/ws-dev-1/telemetry', JSON.stringify({ ts, v: 1 }), { qos: 1 });
    expect(await stored(svc, 'ws-dev-1', ts)).toMatchObject({ deviceId: 'ws-dev-1', ts, v: 1 });
    await client.endAsync();
  });

  it('ws: only the configured path upgrades', async () => {
    const err = await refused(`ws://127.0.0.1:${ports.ws}/other`, { clientId: 'ws-dev-2' });
    expect(err.message).not.toMatch(/connected unexpectedly/);
  });

  it('ws: a WebSocket message larger than the packet limit is refused from its frame header and counted', async () => {
    const before = metricValue(await scrape(svc.httpUrl), 'iot_ingest_limit_hits_total', { limit: 'packet_bytes' });
    const socket = new WebSocket(`ws://127.0.0.1:${ports.ws}/mqtt`, 'mqtt');
    const closeCode = await new Promise<number>((resolve, reject) => {
      socket.once('open', () => socket.send(Buffer.alloc(svc.config.maxPayloadBytes + 128 * 1024)));
      socket.once('close', (code) => resolve(code));
      socket.once('error', reject);
    });
    expect(closeCode).toBe(1009); // message too big
    expect(metricValue(await scrape(svc.httpUrl), 'iot_ingest_limit_hits_total', { limit: 'packet_bytes' })).toBe(before + 1);
  });

  it('wss: mqtt.js over wss:// with the CA stores readings end to end', async () => {
    const client = await connect(`wss://127.0.0.1:${ports.wss}/mqtt`, { clientId: 'wss-dev-1', ca: pki.read(pki.caFile) });
    const ts = Date.now() - 4_000;
    await client.publishAsync('devices/wss-dev-1/telemetry', JSON.stringify({ ts, v: 2 }), { qos: 1 });
    expect(await stored(svc, 'wss-dev-1', ts)).toMatchObject({ deviceId: 'wss-dev-1', ts, v: 2 });
    await client.endAsync();
  });

  it.each([
    ['ws://', (): string => `ws://127.0.0.1:${ports.ws}/mqtt`, [] as string[]],
    ['wss://', (): string => `wss://127.0.0.1:${ports.wss}/mqtt`, ['--ca', '']],
  ])('the simulator over %s: every acknowledged reading is stored (--verify)', async (scheme, url, extra) => {
    const args = extra.length > 0 ? ['--ca', pki.caFile] : [];
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await runSimulate(
      ['--url', url(), '--dynamodb-endpoint', server.endpoint, '--table', svc.config.tableName, '--json', '--quiet',
        '--prefix', `sim-${scheme.replace(/\W/g, '')}`, '-n', '4', '-r', '10', '-d', '2', '--verify', '--seed', '3', ...args],
      { stdout, stderr, env: {}, isTTY: false },
    );
    expect(code, stderr.text).toBe(EXIT_CODES.OK);
    const summary = JSON.parse(stdout.text) as Summary;
    expect(summary.acked.readings).toBeGreaterThan(40);
    expect(summary.acked.readings).toBe(summary.sent.readings);
    expect(summary.verify).toMatchObject({ ok: true, missing: 0, devices: 4 });
  });
});

describe('mtls with the device id from a SAN URI, and a registry check', () => {
  let svc: TestService;
  let url: string;

  beforeAll(async () => {
    svc = await startTestService(
      server.endpoint,
      { mqttTcp: false, auth: 'mtls', tlsPort: 0, wssPort: 0, tlsCert: pki.server.cert, tlsKey: pki.server.key, tlsCa: pki.caFile, mtlsIdentity: 'san-uri' },
      { deviceAllowed: async (deviceId) => deviceId !== 'revoked-1' },
    );
    url = `mqtts://127.0.0.1:${svc.service.mqttPorts.tls}`;
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('takes the device id from the SAN URI, not the CN', async () => {
    const cert = pki.client('san-1', { cn: 'Some Vendor Sensor', sanUri: 'urn:iot-ingest:device:sensor-9' });
    const client = await connect(url, { clientId: 'sensor-9', ca: pki.read(pki.caFile), cert: pki.read(cert.cert), key: pki.read(cert.key) });
    const ts = Date.now() - 5_000;
    await client.publishAsync('devices/sensor-9/telemetry', JSON.stringify({ ts, v: 9 }), { qos: 1 });
    expect(await stored(svc, 'sensor-9', ts)).toMatchObject({ deviceId: 'sensor-9', v: 9 });
    await client.endAsync();
  });

  it('wss in mode mtls: the same certificate stores readings over a secure WebSocket', async () => {
    const cert = pki.client('san-4', { sanUri: 'urn:iot-ingest:device:sensor-11' });
    const client = await connect(`wss://127.0.0.1:${svc.service.mqttPorts.wss}/mqtt`, {
      clientId: 'sensor-11', ca: pki.read(pki.caFile), cert: pki.read(cert.cert), key: pki.read(cert.key),
    });
    const ts = Date.now() - 6_000;
    await client.publishAsync('devices/sensor-11/telemetry', JSON.stringify({ ts, v: 11 }), { qos: 1 });
    expect(await stored(svc, 'sensor-11', ts)).toMatchObject({ deviceId: 'sensor-11', v: 11 });
    await client.endAsync();
    const err = await refused(`wss://127.0.0.1:${svc.service.mqttPorts.wss}/mqtt`, { clientId: 'sensor-12', ca: pki.read(pki.caFile) });
    expect(err.message).not.toMatch(/connected unexpectedly/);
  });

  it('refuses a certificate without a matching SAN URI with CONNACK 5', async () => {
    const cert = pki.client('san-2', { cn: 'sensor-10' });
    const err = await refused(url, { clientId: 'sensor-10', ca: pki.read(pki.caFile), cert: pki.read(cert.cert), key: pki.read(cert.key) });
    expect(err.code).toBe(5);
  });

  it('refuses a device the registry does not allow (revoked) with CONNACK 5', async () => {
    const cert = pki.client('san-3', { sanUri: 'urn:iot-ingest:device:revoked-1' });
    const err = await refused(url, { clientId: 'revoked-1', ca: pki.read(pki.caFile), cert: pki.read(cert.cert), key: pki.read(cert.key) });
    expect(err.code).toBe(5);
  });
});
