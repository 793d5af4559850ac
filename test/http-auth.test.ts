// The HTTP side of the safe defaults: a bearer token guards the read API (and /metrics with
// --metrics-auth) while /healthz and /readyz stay open; without credentials the service binds to
// loopback, refuses to be told otherwise without --allow-anonymous-remote, and warns once when it is.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynalite } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { runCli, spawnService, startTestService } from './helpers/service.ts';

const TOKEN = 'test-token-0123456789abcdef';

async function status(url: string, token?: string): Promise<number> {
  const res = await fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

describe('HTTP bearer token and bind defaults', () => {
  let dynamo: DynamoServer;

  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    await dynamo?.stop();
  });

  it('requires the token on the read API; health, readiness and (by default) metrics stay open', async () => {
    const svc = await startTestService(dynamo.endpoint, { apiToken: TOKEN });
    try {
      const readings = `${svc.httpUrl}/devices/d1/readings`;
      expect(await status(readings)).toBe(401);
      expect(await status(readings, 'wrong-token-0123456789')).toBe(401);
      expect(await status(readings, TOKEN)).toBe(200);
      expect(await status(`${svc.httpUrl}/healthz`)).toBe(200);
      expect(await status(`${svc.httpUrl}/readyz`)).toBe(200);
      expect(await status(`${svc.httpUrl}/metrics`)).toBe(200);
      const text = await (await fetch(`${svc.httpUrl}/metrics`)).text();
      expect(text).toContain('iot_ingest_http_auth_failures_total{reason="missing"} 1');
      expect(text).toContain('iot_ingest_http_auth_failures_total{reason="invalid"} 1');
    } finally {
      await svc.stop();
    }
    const guarded = await startTestService(dynamo.endpoint, { apiToken: TOKEN, metricsAuth: true });
    try {
      expect(await status(`${guarded.httpUrl}/metrics`)).toBe(401);
      expect(await status(`${guarded.httpUrl}/metrics`, TOKEN)).toBe(200);
      expect(await status(`${guarded.httpUrl}/healthz`)).toBe(200);
    } finally {
      await guarded.stop();
    }
  });

  it('binds to loopback with auth none and no token; warns once when remote anonymous access is allowed', async () => {
    const common = ['--dynamodb-endpoint', dynamo.endpoint, '--mqtt-port', '0', '--http-port', '0'];
    const local = await spawnService(common);
    try {
      const ready = JSON.parse(local.logs().split('\n').find((l) => l.includes('"iot-ingest ready"')) as string) as Record<string, unknown>;
      expect(ready).toMatchObject({ mqttHost: '127.0.0.1', httpHost: '127.0.0.1', auth: 'none' });
      expect(local.logs()).not.toContain('allow-anonymous-remote');
    } finally {
      local.proc.kill('SIGTERM');
      await local.exited;
    }
    const open = await spawnService([...common, '--allow-anonymous-remote']);
    try {
      const ready = JSON.parse(open.logs().split('\n').find((l) => l.includes('"iot-ingest ready"')) as string) as Record<string, unknown>;
      expect(ready).toMatchObject({ mqttHost: '0.0.0.0', httpHost: '0.0.0.0' });
      expect(open.logs().split('\n').filter((l) => l.includes('--allow-anonymous-remote:'))).toHaveLength(1);
    } finally {
      open.proc.kill('SIGTERM');
      await open.exited;
    }
    const refused = await runCli(['serve', ...common, '--mqtt-host', '0.0.0.0']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--mqtt-host / MQTT_HOST');
    expect(refused.stderr).toContain('--allow-anonymous-remote');
  });
});
