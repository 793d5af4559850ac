// Pure parts of device identity: secret hashing, the client-id rule, lock-out arithmetic, the
// takeover guard, application credentials and the safe bind defaults of the config schema.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadApplications } from '../../src/broker/applications.ts';
import { SourceLockout } from '../../src/broker/auth-lockout.ts';
import { clientIdMatches } from '../../src/broker/authenticators.ts';
import { TakeoverGuard } from '../../src/broker/takeover.ts';
import { bindHosts, serveConfigSchema } from '../../src/config/schema.ts';
import { acceptedHashes, fromItem } from '../../src/identity/device-record.ts';
import { generateSecret, hashSecret, verifySecret } from '../../src/identity/secrets.ts';

describe('secrets', () => {
  it('hashes with salt and parameters beside the hash, and verifies only the right secret', async () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const cost = { logN: 10, r: 8, p: 1 };
    const [a, b] = await Promise.all([hashSecret(secret, cost), hashSecret(secret, cost)]);
    expect(a).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b); // a fresh salt each time
    expect(await verifySecret(secret, a)).toBe(true);
    expect(await verifySecret(secret, b)).toBe(true);
    expect(await verifySecret(`${secret}x`, a)).toBe(false);
    expect(await verifySecret(secret, 'not-a-hash')).toBe(false);
    expect(await verifySecret(secret, a.replace('ln=10', 'ln=99'))).toBe(false);
  });

  it('accepts the previous hash only until its overlap ends', () => {
    const record = fromItem({ deviceId: 'd', status: 'active', secretHash: 'new', previousSecretHash: 'old', previousSecretExpiresAt: 1000, createdAt: 1 });
    expect(acceptedHashes(record, 999)).toEqual(['new', 'old']);
    expect(acceptedHashes(record, 1000)).toEqual(['new']);
    expect(fromItem({ deviceId: 'd', status: 'weird', createdAt: 1 }).status).toBe('revoked');
  });
});

describe('client-id rule', () => {
  it('the client id is the identity or starts with "{identity}:"', () => {
    expect(clientIdMatches('thermo-3', 'thermo-3')).toBe(true);
    expect(clientIdMatches('thermo-3:ota', 'thermo-3')).toBe(true);
    expect(clientIdMatches('thermo-3:', 'thermo-3')).toBe(false);
    expect(clientIdMatches('thermo-30', 'thermo-3')).toBe(false);
    expect(clientIdMatches('thermo-4', 'thermo-3')).toBe(false);
  });
});

describe('lock-out', () => {
  it('locks out after the threshold, doubling each further failure up to the maximum', () => {
    let now = 0;
    const lockout = new SourceLockout({ threshold: 3, baseMs: 1000, maxMs: 5000 }, () => now);
    expect([lockout.recordFailure('a'), lockout.recordFailure('a')]).toEqual([0, 0]);
    expect(lockout.lockedForMs('a')).toBe(0);
    expect(lockout.recordFailure('a')).toBe(1000);
    expect(lockout.recordFailure('a')).toBe(2000);
    expect(lockout.recordFailure('a')).toBe(4000);
    expect(lockout.recordFailure('a')).toBe(5000);
    expect(lockout.lockedForMs('a')).toBe(5000);
    expect(lockout.lockedForMs('b')).toBe(0);
    expect(lockout.lockedCount()).toBe(1);
    now = 5000;
    expect(lockout.lockedForMs('a')).toBe(0);
  });
});

describe('takeover guard', () => {
  it('allows the same identity once per interval and never another identity', () => {
    let now = 0;
    const guard = new TakeoverGuard(1000, () => now);
    const dev = { role: 'device', id: 'd1', via: 'password' } as const;
    expect(guard.decide('d1', undefined, dev)).toBe('no_takeover');
    expect(guard.decide('d1', dev, { role: 'device', id: 'd2', via: 'password' })).toBe('denied');
    expect(guard.decide('d1', dev, { role: 'application', id: 'd1', via: 'password' })).toBe('denied');
    expect(guard.decide('d1', dev, dev)).toBe('allowed');
    now = 999;
    expect(guard.decide('d1', dev, dev)).toBe('rate_limited');
    now = 1000;
    expect(guard.decide('d1', dev, dev)).toBe('allowed');
  });
});

describe('application credentials', () => {
  it('come from settings and a file, and are compared in full', () => {
    const dir = mkdtempSync(join(tmpdir(), 'apps-'));
    const file = join(dir, 'apps.txt');
    writeFileSync(file, '# dashboards\nboard:board-secret-1\n\n');
    const apps = loadApplications(['tail:tail-secret-1'], file);
    expect(apps.size).toBe(2);
    expect(apps.verify('board', Buffer.from('board-secret-1'))).toBe(true);
    expect(apps.verify('board', Buffer.from('board-secret-'))).toBe(false);
    expect(apps.verify('tail', Buffer.from('tail-secret-1'))).toBe(true);
    expect(apps.has('other')).toBe(false);
    writeFileSync(file, 'board:short\n');
    expect(() => loadApplications([], file)).toThrow(`${file}:1: application credential must be NAME:SECRET`);
    expect(() => loadApplications(['a:12345678', 'a:87654321'], undefined)).toThrow('given twice');
  });
});

describe('safe bind defaults', () => {
  const parse = (raw: Record<string, unknown>) => serveConfigSchema.safeParse(raw);

  it('binds to loopback without credentials, to every address with them or when allowed', () => {
    expect(bindHosts(serveConfigSchema.parse({}))).toEqual({ mqttHost: '127.0.0.1', httpHost: '127.0.0.1' });
    expect(bindHosts(serveConfigSchema.parse({ auth: 'password' }))).toEqual({ mqttHost: '0.0.0.0', httpHost: '127.0.0.1' });
    expect(bindHosts(serveConfigSchema.parse({ auth: 'password', apiToken: 'a-token-of-16-chars' }))).toEqual({ mqttHost: '0.0.0.0', httpHost: '0.0.0.0' });
    expect(bindHosts(serveConfigSchema.parse({ allowAnonymousRemote: 'true' }))).toEqual({ mqttHost: '0.0.0.0', httpHost: '0.0.0.0' });
    expect(bindHosts(serveConfigSchema.parse({ mqttHost: '127.0.0.2' }))).toEqual({ mqttHost: '127.0.0.2', httpHost: '127.0.0.1' });
  });

  it('refuses an explicit non-loopback address without credentials, naming the setting', () => {
    const r = parse({ mqttHost: '0.0.0.0', httpHost: '0.0.0.0' });
    expect(r.success).toBe(false);
    const issues = r.error?.issues.map((i) => `${String(i.path[0])}: ${i.message}`) ?? [];
    expect(issues).toEqual([expect.stringMatching(/^mqttHost: with a listener in auth mode none .*--allow-anonymous-remote/), expect.stringMatching(/^httpHost: without an API token .*--api-token/)]);
    expect(parse({ mqttHost: '0.0.0.0', httpHost: '0.0.0.0', allowAnonymousRemote: true }).success).toBe(true);
    expect(parse({ metricsAuth: true }).success).toBe(false);
    expect(parse({ applications: 'a:12345678,b:87654321' }).data?.applications).toEqual(['a:12345678', 'b:87654321']);
  });
});
