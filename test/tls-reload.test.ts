// SIGHUP reloads the TLS certificate files of the service (run as a process): new handshakes get the
// new server certificate, a connection made before keeps publishing and is acknowledged, and a
// broken file leaves the previous certificate in use.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClients } from '../src/storage/client.ts';
import { createTestPki } from './helpers/certs.ts';
import type { TestPki } from './helpers/certs.ts';
import { randomTableName, startDynalite, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { spawnService } from './helpers/service.ts';
import type { SpawnedService } from './helpers/service.ts';

const fingerprintOf = (client: MqttClient): string => (client.stream as unknown as TLSSocket).getPeerCertificate().fingerprint256;

describe('TLS certificate reload on SIGHUP', () => {
  let pki: TestPki;
  let server: DynamoServer;
  let svc: SpawnedService;
  const table = randomTableName('telemetry');
  const certFile = (): string => join(pki.dir, 'live.pem');
  const keyFile = (): string => join(pki.dir, 'live.key');

  beforeAll(async () => {
    pki = createTestPki();
    copyFileSync(pki.server.cert, certFile());
    copyFileSync(pki.server.key, keyFile());
    server = await startDynalite();
    svc = await spawnService([
      '--dynamodb-endpoint', server.endpoint, '--table', table, '--dlq-table', randomTableName('dlq'),
      '--mqtt-host', '127.0.0.1', '--http-host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0',
      '--tls-port', '0', '--tls-cert', certFile(), '--tls-key', keyFile(),
    ]);
  });
  afterAll(async () => {
    if (svc && svc.proc.exitCode === null) {
      svc.proc.kill('SIGTERM');
      await svc.exited;
    }
    await server?.stop();
    pki?.cleanup();
  });

  it('swaps the server certificate for new connections without dropping a live one', async () => {
    const url = `mqtts://127.0.0.1:${svc.mqttPorts.tls}`;
    const ca = readFileSync(pki.caFile, 'utf8');
    const first = new X509Certificate(readFileSync(pki.server.cert)).fingerprint256;
    const second = new X509Certificate(readFileSync(pki.server2.cert)).fingerprint256;
    const live = await connectAsync(url, { clientId: 'reload-1', ca, reconnectPeriod: 0, keepalive: 30 });
    let liveClosed = false;
    live.on('close', () => (liveClosed = true));
    expect(fingerprintOf(live)).toBe(first);

    copyFileSync(pki.server2.cert, certFile());
    copyFileSync(pki.server2.key, keyFile());
    const reloadsBefore = svc.logs().split('TLS certificate files reloaded').length;
    svc.proc.kill('SIGHUP');
    await waitFor(() => svc.logs().split('TLS certificate files reloaded').length > reloadsBefore, { message: 'no reload log line' });

    const fresh = await connectAsync(url, { clientId: 'reload-2', ca, reconnectPeriod: 0, keepalive: 30 });
    expect(fingerprintOf(fresh)).toBe(second);
    const ts = Date.now() - 1_000;
    await live.publishAsync('devices/reload-1/telemetry', JSON.stringify({ ts, v: 1 }), { qos: 1 });
    await fresh.publishAsync('devices/reload-2/telemetry', JSON.stringify({ ts, v: 2 }), { qos: 1 });
    expect(liveClosed).toBe(false);
    expect(fingerprintOf(live)).toBe(first);

    const clients = createDynamoClients({ endpoint: server.endpoint, region: 'us-east-1' });
    try {
      for (const [deviceId, v] of [['reload-1', 1], ['reload-2', 2]] as const) {
        const got = await clients.doc.send(new GetCommand({ TableName: table, Key: { deviceId, ts }, ConsistentRead: true }));
        expect(got.Item).toMatchObject({ deviceId, ts, v });
      }
    } finally {
      clients.destroy();
    }

    // A broken file: the reload fails, is logged, and the certificate in use stays.
    writeFileSync(certFile(), 'not a certificate');
    svc.proc.kill('SIGHUP');
    await waitFor(() => svc.logs().includes('TLS reload failed'), { message: 'no reload failure log line' });
    const third = await connectAsync(url, { clientId: 'reload-3', ca, reconnectPeriod: 0, keepalive: 30 });
    expect(fingerprintOf(third)).toBe(second);
    expect(svc.proc.exitCode).toBeNull();
    await Promise.all([live.endAsync(), fresh.endAsync(), third.endAsync()]);
  });
});
