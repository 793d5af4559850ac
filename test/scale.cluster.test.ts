// Cluster mode: two `iot-ingest serve --cluster redis://...` processes sharing Debian's redis-server
// (started here on a free port, nothing saved). A subscriber on replica A gets what a device
// publishes on replica B; a persistent session (clean=0, QoS 1) made on A resumes on B with the
// message queued meanwhile; the same client id on B closes the older connection on A; and with
// Redis stopped mid-run, ingestion carries on with nothing acknowledged lost, shown by the metric
// and by /readyz (still 200, detail "down").
import { Writable } from 'node:stream';
import { connect } from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSimulate } from '../simulator/cli.ts';
import { EXIT_CODES } from '../simulator/exitCodes.ts';
import type { Summary } from '../simulator/summary.ts';
import { CLUSTER_APP, httpUrl, mqttUrl, startClusterPair } from './helpers/cluster-pair.ts';
import type { ClusterPair } from './helpers/cluster-pair.ts';
import { randomTableName, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { hasBinary } from './helpers/scale-servers.ts';
import type { RedisServer } from './helpers/scale-servers.ts';
import { metricValue, scrape } from './helpers/service.ts';
import type { SpawnedService } from './helpers/service.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

const APP = CLUSTER_APP;

describe.skipIf(!hasBinary('redis-server'))('cluster mode over Redis', () => {
  let pair: ClusterPair | undefined;
  let redis: RedisServer;
  let dynamo: DynamoServer;
  let a: SpawnedService;
  let b: SpawnedService;
  const table = randomTableName('cluster');
  const open = (s: SpawnedService, options: IClientOptions): Promise<MqttClient> => (pair as ClusterPair).open(s, options);
  const nextMessage = (c: MqttClient, timeoutMs = 15_000): Promise<{ topic: string; payload: string }> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message arrived')), timeoutMs);
      c.once('message', (topic, payload) => {
        clearTimeout(timer);
        resolve({ topic, payload: payload.toString() });
      });
    });

  beforeAll(async () => {
    pair = await startClusterPair(table);
    ({ redis, dynamo, a, b } = pair);
  }, 60_000);
  afterAll(async () => {
    await pair?.stop();
  });

  it('a subscriber on replica A receives a reading published on replica B; the ACL still refuses devices', async () => {
    const watcher = await open(a, { clientId: 'ops:watch', ...APP });
    const granted = await watcher.subscribeAsync('devices/+/telemetry', { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    const device = await open(b, { clientId: 'cn-1' });
    const arriving = nextMessage(watcher);
    await device.publishAsync('devices/cn-1/telemetry', JSON.stringify({ ts: 1_700_000_000_001, temperature: 20.5 }), { qos: 1 });
    const got = await arriving;
    expect(got.topic).toBe('devices/cn-1/telemetry');
    expect(JSON.parse(got.payload)).toEqual({ ts: 1_700_000_000_001, temperature: 20.5 });
    // A device may not watch others' telemetry: SUBACK 0x80, counted.
    const refused = await device.subscribeAsync('devices/+/telemetry', { qos: 1 }).then(
      () => 'granted',
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
    );
    expect(refused).toEqual([128]);
    expect(metricValue(await scrape(httpUrl(b)), 'iot_ingest_acl_denials_total', { action: 'subscribe', reason: 'not_own_topic' })).toBe(1);
  }, 30_000);

  it('a persistent session made on A resumes on B with the QoS 1 message queued while it was away', async () => {
    const first = await open(a, { clientId: 'ops:session', clean: false, ...APP });
    await first.subscribeAsync('devices/ps-1/telemetry', { qos: 1 });
    await first.endAsync();
    const device = await open(b, { clientId: 'ps-1' });
    await device.publishAsync('devices/ps-1/telemetry', JSON.stringify({ ts: 1_700_000_000_002, v: 'queued' }), { qos: 1 });
    // Back on the other replica: the session (its subscription and its queue) comes from Redis.
    const resumed = connect(mqttUrl(b), { clientId: 'ops:session', clean: false, reconnectPeriod: 0, ...APP });
    pair?.track(resumed);
    const arriving = nextMessage(resumed);
    const got = await arriving;
    expect(got.topic).toBe('devices/ps-1/telemetry');
    expect(JSON.parse(got.payload)).toEqual({ ts: 1_700_000_000_002, v: 'queued' });
  }, 30_000);

  it('the same client id connecting on B closes the older connection on A', async () => {
    const older = await open(a, { clientId: 'ops:dup', ...APP });
    const closed = new Promise<true>((resolve) => older.once('close', () => resolve(true)));
    await open(b, { clientId: 'ops:dup', ...APP });
    await expect(Promise.race([closed, new Promise((r) => setTimeout(() => r('still open'), 5_000))])).resolves.toBe(true);
  }, 30_000);

  it('with Redis stopped mid-run, ingestion carries on, nothing acknowledged is lost, and the metric and /readyz show it', async () => {
    expect(metricValue(await scrape(httpUrl(a)), 'iot_ingest_cluster_up')).toBe(1);
    const stdout = new Capture();
    const run = runSimulate(
      ['--url', mqttUrl(a), '--dynamodb-endpoint', dynamo.endpoint, '--table', table, '--json', '--quiet',
        '--prefix', 'rd', '-n', '10', '-r', '20', '-d', '15', '--seed', '5', '--verify'],
      { stdout, stderr: new Capture(), env: {}, isTTY: false },
    );
    await waitFor(async () => (metricValue(await scrape(httpUrl(a)), 'iot_ingest_readings_stored_total') >= 50 ? true : undefined), {
      timeoutMs: 30_000, message: 'the fleet did not get going',
    });
    await redis.stop();
    await waitFor(async () => (metricValue(await scrape(httpUrl(a)), 'iot_ingest_cluster_up') === 0 ? true : undefined), {
      timeoutMs: 10_000, message: 'iot_ingest_cluster_up did not drop to 0',
    });
    const readyz = await fetch(`${httpUrl(a)}/readyz`);
    expect(readyz.status).toBe(200);
    expect(await readyz.json()).toMatchObject({ status: 'ready', cluster: { redis: 'down', crossNodeDelivery: false } });
    // A device connecting during the outage is served (its session lives in this node's memory).
    const late = await open(a, { clientId: 'rd-late' });
    await late.publishAsync('devices/rd-late/telemetry', JSON.stringify({ ts: 1_700_000_000_003, v: 1 }), { qos: 1 });

    const code = await run;
    const summary = JSON.parse(stdout.text) as Summary;
    expect(code).toBe(EXIT_CODES.OK);
    expect(summary.acked.readings).toBeGreaterThan(300);
    expect(summary.verify).toMatchObject({ ok: true, missing: 0, devices: 10 });
    const after = await scrape(httpUrl(a));
    expect(metricValue(after, 'iot_ingest_cluster_local_fallbacks_total', { operation: 'publish' })).toBeGreaterThan(0);
    expect(a.logs()).toContain('Redis unreachable: ingestion continues');
  }, 120_000);
});
