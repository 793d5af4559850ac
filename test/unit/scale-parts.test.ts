// Pure parts of the scale-out work: PROXY header framing, application credentials, and the
// settings (--workers, --proxy-protocol, --cluster) as the schema reads them.
import { describe, expect, it } from 'vitest';
import { parseApplications } from '../../src/broker/identity-hooks.ts';
import { proxyHeaderLength } from '../../src/broker/proxy-protocol.ts';
import { resolveWorkerCount } from '../../src/cluster/primary.ts';
import { serveConfigSchema } from '../../src/config/schema.ts';

const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

describe('proxyHeaderLength', () => {
  it('v1: complete once the CRLF arrives, the MQTT bytes after it are not part of it', () => {
    const line = 'PROXY TCP4 10.1.2.3 127.0.0.1 5555 1883\r\n';
    expect(proxyHeaderLength(Buffer.from(line.slice(0, 20)))).toBe(0);
    expect(proxyHeaderLength(Buffer.concat([Buffer.from(line), Buffer.from([0x10, 0x0c])]))).toBe(line.length);
    expect(proxyHeaderLength(Buffer.from('PRO'))).toBe(0);
  });
  it('v1: a line longer than 107 bytes is not a header', () => {
    expect(proxyHeaderLength(Buffer.from(`PROXY ${'x'.repeat(120)}`))).toBe(-1);
  });
  it('v2: waits for the 16-byte header and the length it announces', () => {
    const header = Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0x00, 0x0c]), Buffer.alloc(12)]);
    expect(proxyHeaderLength(header.subarray(0, 10))).toBe(0);
    expect(proxyHeaderLength(header.subarray(0, 20))).toBe(0);
    expect(proxyHeaderLength(Buffer.concat([header, Buffer.from([0x10])]))).toBe(28);
  });
  it('an MQTT CONNECT is not a PROXY header', () => {
    expect(proxyHeaderLength(Buffer.from([0x10, 0x0c, 0x00, 0x04]))).toBe(-1);
  });
});

describe('application credentials', () => {
  it('reads name:secret pairs; a secret may contain a colon', () => {
    expect([...parseApplications('ops:s3cret, dash:a:b')]).toEqual([['ops', 's3cret'], ['dash', 'a:b']]);
    expect(parseApplications(undefined).size).toBe(0);
  });
});

describe('scale settings', () => {
  it('--workers: a count or auto (one per core); 0 is refused', () => {
    expect(serveConfigSchema.parse({}).workers).toBe(1);
    expect(serveConfigSchema.parse({ workers: '3' }).workers).toBe(3);
    expect(resolveWorkerCount(serveConfigSchema.parse({ workers: 'auto' }).workers)).toBeGreaterThanOrEqual(1);
    expect(serveConfigSchema.safeParse({ workers: '0' }).success).toBe(false);
  });
  it('--cluster takes redis:// URLs only; --proxy-protocol is off unless asked for', () => {
    expect(serveConfigSchema.safeParse({ clusterRedisUrl: 'http://x:6379' }).success).toBe(false);
    expect(serveConfigSchema.parse({ clusterRedisUrl: 'redis://127.0.0.1:6379' }).clusterRedisUrl).toBe('redis://127.0.0.1:6379');
    expect(serveConfigSchema.parse({}).proxyProtocol).toBe(false);
  });
});
