// The simulator against the real service (in-process, ephemeral ports) writing to dynalite: every
// acknowledged reading is read back by --verify; readings deleted behind the simulator's back are
// reported missing; the service's rejection metrics rise by the simulator's own bad-message count;
// and the `iot-ingest simulate` CLI process works end to end.
import { Writable } from 'node:stream';
import { BatchWriteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSimulate } from '../simulator/cli.ts';
import { EXIT_CODES } from '../simulator/exitCodes.ts';
import type { Summary } from '../simulator/summary.ts';
import { startDynalite, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { metricValue, runCli, scrape, startTestService } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('simulator against the service', () => {
  let server: DynamoServer;
  let svc: TestService;

  beforeAll(async () => {
    server = await startDynalite();
    svc = await startTestService(server.endpoint);
  });
  afterAll(async () => {
    await svc?.stop();
    await server?.stop();
  });

  const simulate = async (args: string[]): Promise<{ code: number; summary: Summary; stderr: string }> => {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await runSimulate(
      ['--url', svc.mqttUrl, '--dynamodb-endpoint', server.endpoint, '--table', svc.config.tableName, '--json', '--quiet', ...args],
      { stdout, stderr, env: {}, isTTY: false },
    );
    return { code, summary: JSON.parse(stdout.text) as Summary, stderr: stderr.text };
  };

  const deviceTs = async (deviceId: string): Promise<number[]> => {
    const page = await svc.clients.doc.send(new QueryCommand({
      TableName: svc.config.tableName,
      KeyConditionExpression: 'deviceId = :d',
      ExpressionAttributeValues: { ':d': deviceId },
      ConsistentRead: true,
    }));
    return (page.Items ?? []).map((item) => Number(item.ts));
  };

  it('a steady run of every profile, batched, with --verify: all acknowledged readings stored, none invalid', async () => {
    const before = await scrape(svc.httpUrl);
    const run = await simulate(['--prefix', 'e2e', '-n', '8', '-p', 'mixed', '-r', '20', '-d', '3', '-b', '2', '--verify', '--seed', '1']);
    const after = await scrape(svc.httpUrl);
    expect(run.code).toBe(EXIT_CODES.OK);
    expect(run.summary.acked.readings).toBeGreaterThan(300);
    expect(run.summary.acked.readings).toBe(run.summary.sent.readings);
    expect(run.summary.verify).toMatchObject({ ok: true, missing: 0, unexpected: 0, devices: 8 });
    expect(run.summary.verify && 'stored' in run.summary.verify ? run.summary.verify.stored : -1).toBe(run.summary.acked.readings);
    const delta = (name: string, labels: Record<string, string> = {}): number => metricValue(after, name, labels) - metricValue(before, name, labels);
    expect(delta('iot_ingest_invalid_messages_total')).toBe(0);
    expect(delta('iot_ingest_readings_stored_total')).toBeGreaterThanOrEqual(run.summary.acked.readings);
  });

  it('--verify exits 3 with the count of readings deleted behind the simulator\'s back', async () => {
    const deviceId = 'del-thermostat-1';
    const running = simulate(['--prefix', 'del', '-n', '2', '-r', '40', '-d', '3', '--verify']);
    // Once some readings of one device are stored (and so acknowledged), delete 7 of them.
    const stored = await waitFor(async () => {
      const ts = await deviceTs(deviceId);
      return ts.length >= 20 ? ts : undefined;
    }, { timeoutMs: 10_000, message: 'readings were not stored' });
    const victims = stored.slice(3, 10);
    await svc.clients.doc.send(new BatchWriteCommand({
      RequestItems: { [svc.config.tableName]: victims.map((ts) => ({ DeleteRequest: { Key: { deviceId, ts } } })) },
    }));
    const run = await running;
    expect(run.code).toBe(EXIT_CODES.MISSING_READINGS);
    expect(run.summary.verify).toMatchObject({ ok: false, missing: 7 });
    const samples = run.summary.verify && 'missingSamples' in run.summary.verify ? run.summary.verify.missingSamples : [];
    expect(samples.map((s) => s.ts).sort()).toEqual([...victims].sort());
    expect(samples.every((s) => s.deviceId === deviceId)).toBe(true);
    expect(run.summary.problems.join()).toContain('7 acknowledged readings are missing');
  });

  it('bad-actors: the service counts exactly the simulator\'s bad messages, and stores every good one', async () => {
    const before = await scrape(svc.httpUrl);
    const run = await simulate([
      '--prefix', 'bad', '-n', '6', '-r', '20', '-d', '3', '--scenario', 'bad-actors', '--bad-share', '0.2',
      '--reconnect-min', '100', '--seed', '7', '--verify',
    ]);
    expect(run.code).toBe(EXIT_CODES.OK);
    const { byKind } = run.summary.bad;
    for (const kind of ['bad-json', 'wrong-type', 'oversized', 'wrong-topic'] as const) expect(byKind[kind]).toBeGreaterThan(0);
    const invalidSent = byKind['bad-json'] + byKind['wrong-type'] + byKind.oversized;
    const deltas = await waitFor(async () => {
      const after = await scrape(svc.httpUrl);
      const invalid = metricValue(after, 'iot_ingest_invalid_messages_total') - metricValue(before, 'iot_ingest_invalid_messages_total');
      const forbidden = metricValue(after, 'iot_ingest_messages_received_total', { result: 'forbidden' })
        - metricValue(before, 'iot_ingest_messages_received_total', { result: 'forbidden' });
      return invalid >= invalidSent && forbidden >= byKind['wrong-topic'] ? { invalid, forbidden } : undefined;
    }, { timeoutMs: 5000, message: 'rejection metrics did not reach the simulator\'s counts' });
    expect(deltas).toEqual({ invalid: invalidSent, forbidden: byKind['wrong-topic'] });
    expect(run.summary.bad.acked).toBe(invalidSent);
    expect(run.summary.verify).toMatchObject({ ok: true, missing: 0 });
  });

  it('--verify exits 6 when the table cannot be read', async () => {
    const stdout = new Capture();
    const code = await runSimulate(
      ['--url', svc.mqttUrl, '--dynamodb-endpoint', server.endpoint, '--table', 'no-such-table', '--prefix', 'nt', '-n', '1', '-c', '3', '-r', '50', '--verify', '--json', '--quiet'],
      { stdout, stderr: new Capture(), env: {}, isTTY: false },
    );
    expect(code).toBe(EXIT_CODES.VERIFY_FAILED);
    expect((JSON.parse(stdout.text) as Summary).verify).toMatchObject({ ok: false, error: expect.stringContaining('ResourceNotFound') });
  });

  it('`iot-ingest simulate` as a process: env settings, --verify, a summary table', async () => {
    const result = await runCli(
      ['simulate', '--url', svc.mqttUrl, '--prefix', 'cli', '-n', '3', '-r', '20', '-c', '10', '--verify'],
      { DYNAMODB_ENDPOINT: server.endpoint, TABLE_NAME: svc.config.tableName },
    );
    expect(result.stderr).not.toContain('internal error');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/verify\s+OK: 30\/30 stored, 0 missing/);
    expect(result.stdout).toMatch(/acked\s+30 readings in 30 messages/);
  });
});
