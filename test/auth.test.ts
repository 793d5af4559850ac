// Device identity end to end, over real sockets against dynalite: password authentication from the
// device registry, topic rights on PUBLISH and SUBSCRIBE, revocation (also of a live connection),
// rotation overlap, application credentials, session takeover, lock-out and the credential cache.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { connectAsync } from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceRegistry } from '../src/identity/registry.ts';
import type { HashCost } from '../src/identity/secrets.ts';
import { randomTableName, startDynalite, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { metricValue, scanAll, startTestService } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

const run = promisify(execFile);
/** A low scrypt cost keeps provisioning fast in tests; it is stored with the hash and used to verify. */
const TEST_COST: HashCost = { logN: 10, r: 8, p: 1 };
const APP = 'dashboard';
const APP_SECRET = 'app-secret-0123456789';

async function connect(url: string, opts: IClientOptions): Promise<MqttClient> {
  return connectAsync(url, { reconnectPeriod: 0, connectTimeout: 10_000, ...opts });
}

/** The CONNACK return code of a refused CONNECT (0 when accepted). */
async function connackCode(url: string, opts: IClientOptions): Promise<number> {
  try {
    const c = await connect(url, opts);
    await c.endAsync();
    return 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

/** The SUBACK return codes (mqtt.js rejects a SUBACK holding 0x80 but keeps the packet). */
async function subackCodes(client: MqttClient, filters: Record<string, { qos: 0 | 1 }>): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filters)).map((g) => g.qos);
  } catch (err) {
    const packet = (err as { packet?: { granted?: number[] } }).packet;
    if (!packet?.granted) throw err;
    return packet.granted;
  }
}

function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => (client.disconnected || !client.connected ? resolve() : client.once('close', () => resolve())));
}

async function metrics(svc: TestService): Promise<string> {
  return svc.service.metrics.registry.metrics();
}

async function storedFor(svc: TestService, deviceId: string): Promise<Record<string, unknown>[]> {
  return (await scanAll(svc.clients.doc, svc.config.tableName)).filter((i) => i.deviceId === deviceId);
}

describe('password authentication and topic rights', () => {
  let dynamo: DynamoServer;
  let svc: TestService;
  let registry: DeviceRegistry;
  const secrets: Record<string, string> = {};

  beforeAll(async () => {
    dynamo = await startDynalite();
    svc = await startTestService(dynamo.endpoint, {
      auth: 'password',
      devicesTableName: randomTableName('devices'),
      applications: [`${APP}:${APP_SECRET}`],
      authCacheTtlMs: 300,
      takeoverIntervalMs: 60_000,
      // Every client here comes from 127.0.0.1; the lock-out has its own test.
      authFailuresBeforeLockout: 1000,
    });
    registry = new DeviceRegistry(svc.clients.doc, svc.config.devicesTableName);
    for (const id of ['dev-a', 'dev-b', 'dev-revoked', 'dev-live-revoke', 'dev-rotate', 'dev-sub', 'dev-take']) secrets[id] = await registry.add(id, { site: 'lab' }, TEST_COST);
  });
  afterAll(async () => {
    await svc?.stop();
    await dynamo?.stop();
  });

  it('stores readings of a device with the right secret (mqtt.js and mosquitto_pub)', async () => {
    const c = await connect(svc.mqttUrl, { clientId: 'dev-a', username: 'dev-a', password: secrets['dev-a'] });
    await c.publishAsync('devices/dev-a/telemetry', JSON.stringify({ ts: 1_700_000_000_001, t: 1 }), { qos: 1 });
    await c.endAsync();
    const port = String(svc.service.mqttPort);
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-i', 'dev-a:shell', '-u', 'dev-a', '-P', secrets['dev-a'] as string, '-q', '1', '-t', 'devices/dev-a/telemetry', '-m', '{"ts":1700000000002,"t":2}']);
    const stored = await storedFor(svc, 'dev-a');
    expect(stored.map((i) => i.t).sort()).toEqual([1, 2]);
  });

  it('refuses a wrong secret, an unknown device, a missing password and a foreign client id; nothing of theirs is stored', async () => {
    const before = await metrics(svc);
    expect(await connackCode(svc.mqttUrl, { clientId: 'dev-b', username: 'dev-b', password: 'not-the-secret' })).toBe(4);
    expect(await connackCode(svc.mqttUrl, { clientId: 'ghost', username: 'ghost', password: 'whatever-secret' })).toBe(4);
    expect(await connackCode(svc.mqttUrl, { clientId: 'dev-b' })).toBe(4);
    expect(await connackCode(svc.mqttUrl, { clientId: 'dev-a', username: 'dev-b', password: secrets['dev-b'] })).toBe(2);
    const port = String(svc.service.mqttPort);
    const pub = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-i', 'dev-b', '-u', 'dev-b', '-P', 'wrong', '-q', '1', '-t', 'devices/dev-b/telemetry', '-m', '{"t":9}']).catch((e: { code: number; stderr: string }) => e);
    expect((pub as { code: number }).code).not.toBe(0);
    const after = await metrics(svc);
    const delta = (reason: string): number => metricValue(after, 'iot_ingest_auth_failures_total', { reason }) - metricValue(before, 'iot_ingest_auth_failures_total', { reason });
    expect([delta('bad_secret'), delta('unknown_device'), delta('no_credentials'), delta('client_id_mismatch')]).toEqual([2, 1, 1, 1]);
    expect(await storedFor(svc, 'dev-b')).toEqual([]);
    expect(await storedFor(svc, 'ghost')).toEqual([]);
  });

  it('closes the connection of a device publishing to another device\'s topic, and stores nothing', async () => {
    const c = await connect(svc.mqttUrl, { clientId: 'dev-b', username: 'dev-b', password: secrets['dev-b'] });
    const gone = closed(c);
    c.publish('devices/dev-a/telemetry', JSON.stringify({ ts: 1_700_000_000_999, t: 666 }), { qos: 1 });
    await gone;
    c.end(true);
    expect((await storedFor(svc, 'dev-a')).some((i) => i.t === 666)).toBe(false);
    expect(metricValue(await metrics(svc), 'iot_ingest_acl_denials_total', { action: 'publish', reason: 'not_own_topic' })).toBe(1);
  });

  it('answers SUBACK 0x80 for forbidden filters and grants a device its own commands', async () => {
    // A persistent session: what it stores outlives the connection.
    const c = await connect(svc.mqttUrl, { clientId: 'dev-sub', username: 'dev-sub', password: secrets['dev-sub'], clean: false });
    const granted = await subackCodes(c, { 'devices/dev-sub/commands/#': { qos: 1 }, 'devices/dev-a/commands/#': { qos: 1 }, '#': { qos: 0 }, 'devices/+/telemetry': { qos: 0 } });
    expect(granted).toEqual([1, 128, 128, 128]);
    expect(c.connected).toBe(true);
    await c.endAsync();
    const text = await metrics(svc);
    expect(metricValue(text, 'iot_ingest_acl_denials_total', { action: 'subscribe' })).toBe(3);
    // The refused filters were not stored with the session (granted-subscriptions.ts): had '#' or
    // devices/+/telemetry been stored, readings would be queued for it, and the fan-out turned on.
    expect(metricValue(text, 'iot_ingest_telemetry_fanout')).toBe(0);
  });

  it('lets an application subscribe to every device\'s telemetry, and refuses a wrong application secret', async () => {
    expect(await connackCode(svc.mqttUrl, { clientId: APP, username: APP, password: 'wrong-app-secret' })).toBe(4);
    const app = await connect(svc.mqttUrl, { clientId: `${APP}:tail`, username: APP, password: APP_SECRET });
    const granted = await app.subscribeAsync('devices/+/telemetry', { qos: 0 });
    expect(granted.map((g) => g.qos)).toEqual([0]);
    const received = new Promise<string>((resolve) => app.once('message', (topic, payload) => resolve(`${topic} ${payload.toString()}`)));
    const dev = await connect(svc.mqttUrl, { clientId: 'dev-a', username: 'dev-a', password: secrets['dev-a'] });
    await dev.publishAsync('devices/dev-a/telemetry', '{"ts":1700000000003,"t":3}', { qos: 1 });
    expect(await received).toBe('devices/dev-a/telemetry {"ts":1700000000003,"t":3}');
    await dev.endAsync();
    await app.endAsync();
  });

  it('refuses a revoked device, and closes a device\'s live connection when it is revoked (within the cache TTL)', async () => {
    await registry.revoke('dev-revoked');
    expect(await connackCode(svc.mqttUrl, { clientId: 'dev-revoked', username: 'dev-revoked', password: secrets['dev-revoked'] })).toBe(4);

    const live = await connect(svc.mqttUrl, { clientId: 'dev-live-revoke', username: 'dev-live-revoke', password: secrets['dev-live-revoke'] });
    await live.publishAsync('devices/dev-live-revoke/telemetry', '{"ts":1700000000010,"t":10}', { qos: 1 });
    const gone = closed(live);
    await registry.revoke('dev-live-revoke');
    // The bound is one TTL (300 ms here) plus one read; the wait allows a loaded machine far more.
    await gone;
    live.end(true);
    expect(metricValue(await metrics(svc), 'iot_ingest_auth_revocation_disconnects_total', { reason: 'revoked' })).toBe(1);
    expect(await connackCode(svc.mqttUrl, { clientId: 'dev-live-revoke', username: 'dev-live-revoke', password: secrets['dev-live-revoke'] })).toBe(4);
    expect((await storedFor(svc, 'dev-live-revoke')).map((i) => i.t)).toEqual([10]);
    expect(await storedFor(svc, 'dev-revoked')).toEqual([]);
  });

  it('rotation: the old secret works during the overlap, not after; a connection on it is then closed', async () => {
    const old = secrets['dev-rotate'] as string;
    const { secret: second } = await registry.rotate('dev-rotate', 600, TEST_COST);
    await waitFor(async () => (await connackCode(svc.mqttUrl, { clientId: 'dev-rotate', username: 'dev-rotate', password: second })) === 0, { message: 'new secret accepted' });
    const onOld = await connect(svc.mqttUrl, { clientId: 'dev-rotate:old', username: 'dev-rotate', password: old });
    await onOld.publishAsync('devices/dev-rotate/telemetry', '{"ts":1700000000020,"t":20}', { qos: 1 });
    const gone = closed(onOld);
    const { secret: third } = await registry.rotate('dev-rotate', 0, TEST_COST);
    await gone;
    onOld.end(true);
    expect(metricValue(await metrics(svc), 'iot_ingest_auth_revocation_disconnects_total', { reason: 'secret_expired' })).toBe(1);
    await waitFor(async () => (await connackCode(svc.mqttUrl, { clientId: 'dev-rotate', username: 'dev-rotate', password: old })) === 4, { message: 'old secret refused' });
    expect(await connackCode(svc.mqttUrl, { clientId: 'dev-rotate', username: 'dev-rotate', password: second })).toBe(4);
    expect(await connackCode(svc.mqttUrl, { clientId: 'dev-rotate', username: 'dev-rotate', password: third })).toBe(0);
    expect((await storedFor(svc, 'dev-rotate')).map((i) => i.t)).toEqual([20]);
  });

  it('allows a session takeover by the same device, rate-limited', async () => {
    const first = await connect(svc.mqttUrl, { clientId: 'dev-take', username: 'dev-take', password: secrets['dev-take'] });
    const firstGone = closed(first);
    const second = await connect(svc.mqttUrl, { clientId: 'dev-take', username: 'dev-take', password: secrets['dev-take'] });
    await firstGone;
    first.end(true);
    expect(await connackCode(svc.mqttUrl, { clientId: 'dev-take', username: 'dev-take', password: secrets['dev-take'] })).toBe(3);
    expect(second.connected).toBe(true);
    expect(metricValue(await metrics(svc), 'iot_ingest_auth_failures_total', { reason: 'takeover_rate' })).toBe(1);
    await second.endAsync();
  });
});

describe('device registry items', () => {
  let dynamo: DynamoServer;

  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    await dynamo?.stop();
  });

  it('add, rotate and revoke keep attributes written by others on the item (presence)', async () => {
    const svc = await startTestService(dynamo.endpoint, { auth: 'password', devicesTableName: randomTableName('devices') });
    try {
      const table = svc.config.devicesTableName;
      const registry = new DeviceRegistry(svc.clients.doc, table);
      // Presence written for a device seen before it was registered: not a registered device.
      await svc.clients.doc.send(new UpdateCommand({ TableName: table, Key: { deviceId: 'p-1' }, UpdateExpression: 'SET lastSeenAt = :t', ExpressionAttributeValues: { ':t': 111 } }));
      expect(await registry.get('p-1')).toBeUndefined();
      await registry.add('p-1', {}, TEST_COST);
      await expect(registry.add('p-1', {}, TEST_COST)).rejects.toMatchObject({ code: 'DEVICE_EXISTS' });
      await svc.clients.doc.send(new UpdateCommand({ TableName: table, Key: { deviceId: 'p-1' }, UpdateExpression: 'SET connected = :c', ExpressionAttributeValues: { ':c': true } }));
      await registry.rotate('p-1', 60, TEST_COST);
      await registry.revoke('p-1');
      const item = (await scanAll(svc.clients.doc, table)).find((i) => i.deviceId === 'p-1');
      expect(item).toMatchObject({ lastSeenAt: 111, connected: true, status: 'revoked' });
      expect(item).not.toHaveProperty('previousSecretHash');
      await expect(registry.revoke('nobody')).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
    } finally {
      await svc.stop();
    }
  });
});

describe('credential cache', () => {
  let dynamo: DynamoServer;
  let svc: TestService;

  beforeAll(async () => {
    dynamo = await startDynalite();
    // All 200 connect at once from 127.0.0.1: lift the per-address limits for this test.
    svc = await startTestService(dynamo.endpoint, { auth: 'password', devicesTableName: randomTableName('devices'), authCacheTtlMs: 60_000, maxConnectsPerIpPerSecond: 100_000, maxConnectionsPerIp: 100_000 });
  });
  afterAll(async () => {
    await svc?.stop();
    await dynamo?.stop();
  });

  it('a storm of 200 devices costs one scrypt per device; reconnecting within the TTL needs no read and no scrypt', async () => {
    const registry = new DeviceRegistry(svc.clients.doc, svc.config.devicesTableName);
    const ids = Array.from({ length: 200 }, (_, i) => `storm-${i}`);
    const secrets = await Promise.all(ids.map((id) => registry.add(id, {}, TEST_COST)));
    const storm = async (): Promise<void> => {
      const clients = await Promise.all(ids.map((id, i) => connect(svc.mqttUrl, { clientId: id, username: id, password: secrets[i] })));
      await Promise.all(clients.map((c) => c.endAsync()));
    };
    await storm();
    const first = await metrics(svc);
    expect(metricValue(first, 'iot_ingest_auth_hash_checks_total')).toBe(200);
    expect(metricValue(first, 'iot_ingest_auth_successes_total', { method: 'password' })).toBe(200);
    // At most one read per device (misses arriving while reads are in flight share a BatchGetItem).
    expect(metricValue(first, 'iot_ingest_auth_registry_requests_total')).toBeLessThanOrEqual(200);
    await storm();
    const second = await metrics(svc);
    expect(metricValue(second, 'iot_ingest_auth_hash_checks_total')).toBe(200);
    expect(metricValue(second, 'iot_ingest_auth_registry_requests_total')).toBe(metricValue(first, 'iot_ingest_auth_registry_requests_total'));
    expect(metricValue(second, 'iot_ingest_auth_cache_lookups_total', { result: 'hit' })).toBe(200);
  });
});

describe('lock-out and auth none', () => {
  let dynamo: DynamoServer;

  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    await dynamo?.stop();
  });

  it('locks a source address out after repeated failures, even for a right secret', async () => {
    const svc = await startTestService(dynamo.endpoint, { auth: 'password', devicesTableName: randomTableName('devices'), authFailuresBeforeLockout: 3, authLockoutBaseMs: 60_000 });
    try {
      const secret = await new DeviceRegistry(svc.clients.doc, svc.config.devicesTableName).add('lock-dev', {}, TEST_COST);
      for (let i = 0; i < 3; i++) expect(await connackCode(svc.mqttUrl, { clientId: 'lock-dev', username: 'lock-dev', password: `wrong-${i}` })).toBe(4);
      expect(await connackCode(svc.mqttUrl, { clientId: 'lock-dev', username: 'lock-dev', password: secret })).toBe(5);
      const text = await metrics(svc);
      expect(metricValue(text, 'iot_ingest_auth_failures_total', { reason: 'bad_secret' })).toBe(3);
      expect(metricValue(text, 'iot_ingest_auth_failures_total', { reason: 'locked_out' })).toBe(1);
      expect(metricValue(text, 'iot_ingest_auth_locked_out_sources')).toBe(1);
    } finally {
      await svc.stop();
    }
  });

  it('with auth none the client id is the identity: own topic stored, another refused; takeover by another identity refused', async () => {
    const svc = await startTestService(dynamo.endpoint, { auth: 'none', devicesTableName: randomTableName('devices'), applications: [`${APP}:${APP_SECRET}`] });
    try {
      const own = await connect(svc.mqttUrl, { clientId: 'anon-1' });
      await own.publishAsync('devices/anon-1/telemetry', '{"ts":1700000000030,"t":30}', { qos: 1 });
      const gone = closed(own);
      own.publish('devices/anon-2/telemetry', '{"ts":1700000000031,"t":31}', { qos: 1 });
      await gone;
      own.end(true);
      expect((await storedFor(svc, 'anon-1')).map((i) => i.t)).toEqual([30]);
      expect(await storedFor(svc, 'anon-2')).toEqual([]);
      const app = await connect(svc.mqttUrl, { clientId: APP, username: APP, password: APP_SECRET });
      expect(await connackCode(svc.mqttUrl, { clientId: APP })).toBe(2);
      expect(app.connected).toBe(true);
      expect(metricValue(await metrics(svc), 'iot_ingest_auth_failures_total', { reason: 'takeover_denied' })).toBe(1);
      await app.endAsync();
    } finally {
      await svc.stop();
    }
  });
});
