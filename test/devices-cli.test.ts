// `iot-ingest devices ...` run as a process against dynalite, checked against a running service in
// password mode: provisioned secrets work, rotation keeps the old one for the overlap, revocation
// refuses, a CSV of 2,000 devices is imported and its secrets work.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomTableName, startDynalite, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { runCli, scanAll, startTestService } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

async function connackCode(url: string, clientId: string, username: string, password: string): Promise<number> {
  try {
    const c = await connectAsync(url, { clientId, username, password, reconnectPeriod: 0 });
    await c.endAsync();
    return 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

describe('devices CLI', () => {
  let dynamo: DynamoServer;
  let svc: TestService;
  let conn: string[];
  const dir = mkdtempSync(join(tmpdir(), 'devices-cli-'));

  beforeAll(async () => {
    dynamo = await startDynalite();
    const devicesTable = randomTableName('devices');
    svc = await startTestService(dynamo.endpoint, { auth: 'password', devicesTableName: devicesTable, authCacheTtlMs: 200, authFailuresBeforeLockout: 1000 });
    conn = ['--dynamodb-endpoint', dynamo.endpoint, '--devices-table', devicesTable];
  });
  afterAll(async () => {
    await svc?.stop();
    await dynamo?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('add prints the secret once; the device connects with it and its readings are stored; add again is one line, exit 1', async () => {
    const added = await runCli(['devices', 'add', 'cli-1', '--attributes', 'model=t1000', '--attributes', 'site=lab', '--json', ...conn]);
    expect(added.code).toBe(0);
    const { deviceId, secret } = JSON.parse(added.stdout) as { deviceId: string; secret: string };
    expect(deviceId).toBe('cli-1');
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const c = await connectAsync(svc.mqttUrl, { clientId: 'cli-1', username: 'cli-1', password: secret, reconnectPeriod: 0 });
    await c.publishAsync('devices/cli-1/telemetry', '{"ts":1700000000100,"t":1}', { qos: 1 });
    await c.endAsync();
    expect((await scanAll(svc.clients.doc, svc.config.tableName)).filter((i) => i.deviceId === 'cli-1').map((i) => i.t)).toEqual([1]);

    const again = await runCli(['devices', 'add', 'cli-1', ...conn]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split('\n')).toEqual([expect.stringContaining('already exists')]);
    const plain = await runCli(['devices', 'add', 'cli-2', ...conn]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^secret: [A-Za-z0-9_-]{43}$/m);
  });

  it('list and show describe devices without any secret or hash', async () => {
    const listed = await runCli(['devices', 'registry-list', '--json', ...conn]);
    expect(listed.code).toBe(0);
    const rows = listed.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.map((r) => r.deviceId).sort()).toEqual(['cli-1', 'cli-2']);
    const shown = await runCli(['devices', 'registry-show', 'cli-1', ...conn]);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ deviceId: 'cli-1', status: 'active', attributes: { model: 't1000', site: 'lab' } });
    expect(shown.stdout + listed.stdout).not.toMatch(/scrypt|secret/i);
    const missing = await runCli(['devices', 'registry-show', 'nope', ...conn]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no device "nope"');
  });

  it('rotate keeps the old secret for the overlap; revoke refuses the device', async () => {
    const before = JSON.parse((await runCli(['devices', 'rotate', 'cli-2', '--json', '--overlap-seconds', '0', ...conn])).stdout) as { secret: string };
    const rotated = await runCli(['devices', 'rotate', 'cli-2', '--overlap-seconds', '120', '--json', ...conn]);
    expect(rotated.code).toBe(0);
    const after = JSON.parse(rotated.stdout) as { secret: string; previousSecretValidUntil: string };
    expect(Date.parse(after.previousSecretValidUntil)).toBeGreaterThan(Date.now() + 100_000);
    await waitFor(async () => (await connackCode(svc.mqttUrl, 'cli-2', 'cli-2', after.secret)) === 0, { message: 'new secret accepted' });
    expect(await connackCode(svc.mqttUrl, 'cli-2', 'cli-2', before.secret)).toBe(0);

    const revoked = await runCli(['devices', 'revoke', 'cli-2', ...conn]);
    expect(revoked.code).toBe(0);
    await waitFor(async () => (await connackCode(svc.mqttUrl, 'cli-2', 'cli-2', after.secret)) === 4, { message: 'revoked device refused' });
    expect(JSON.parse((await runCli(['devices', 'registry-show', 'cli-2', ...conn])).stdout)).toMatchObject({ status: 'revoked' });
  });

  it('import provisions 2,000 devices from a CSV, writes their secrets once, and skips them on a rerun', async () => {
    const csv = join(dir, 'fleet.csv');
    const ids = Array.from({ length: 2000 }, (_, i) => `fleet-${String(i).padStart(4, '0')}`);
    writeFileSync(csv, `deviceId,model\n${ids.map((id, i) => `${id},m${i % 3}`).join('\n')}\n`);
    const out = join(dir, 'secrets.csv');
    const imported = await runCli(['devices', 'import', csv, '--out', out, '--hash-cost', '10', ...conn], {}, 240_000);
    expect(imported.code).toBe(0);
    expect(imported.stderr).toContain('imported 2000 of 2000');
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('deviceId,secret');
    const creds = lines.slice(1).map((l) => l.split(',') as [string, string]);
    expect(creds.map(([id]) => id).sort()).toEqual(ids);
    expect(new Set(creds.map(([, s]) => s)).size).toBe(2000);
    const [id, secret] = creds[1234] as [string, string];
    expect(await connackCode(svc.mqttUrl, id, id, secret)).toBe(0);
    const shown = JSON.parse((await runCli(['devices', 'registry-show', id, ...conn])).stdout) as { attributes: Record<string, string> };
    expect(shown.attributes).toEqual({ model: `m${Number(id.slice(6)) % 3}` });

    const rerun = await runCli(['devices', 'import', csv, '--hash-cost', '10', ...conn], {}, 120_000);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout.trim()).toBe('deviceId,secret');
    expect(rerun.stderr).toContain('skipped 2000 device(s) already registered');
  }, 300_000);

  it('a bad CSV is refused with its line numbers and nothing is imported', async () => {
    const csv = join(dir, 'bad.csv');
    writeFileSync(csv, 'deviceId\nok-1\nbad/id\nok-1\n');
    const r = await runCli(['devices', 'import', csv, ...conn]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('line 3: device id "bad/id"');
    expect(r.stderr).toContain('line 4: device id "ok-1" appears twice');
    expect((await runCli(['devices', 'registry-show', 'ok-1', ...conn])).code).toBe(1);
  });
});
