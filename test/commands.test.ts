// Commands over real sockets: mqtt.js devices subscribed to their command topic, the HTTP API and
// the CLI as a process, a real DynamoDB-API server (dynalite); a service restart in between.
import { connectAsync } from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomTableName, startDynalite, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { metricValue, runCli, scrape, startTestService } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

interface Received {
  topic: string;
  body: { commandId: string; name: string; payload: unknown; issuedAt: number };
}

async function device(url: string, id: string, opts: IClientOptions = {}): Promise<{ client: MqttClient; received: Received[] }> {
  const client = await connectAsync(url, { clientId: id, reconnectPeriod: 0, clean: true, ...opts });
  const received: Received[] = [];
  client.on('message', (topic, payload) => received.push({ topic, body: JSON.parse(payload.toString()) as Received['body'] }));
  return { client, received };
}

async function post(svc: TestService, deviceId: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${svc.httpUrl}/devices/${deviceId}/commands`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function status(svc: TestService, deviceId: string, commandId: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${svc.httpUrl}/devices/${deviceId}/commands/${commandId}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

describe('commands', () => {
  let server: DynamoServer;
  let svc: TestService;
  const tables = { applications: 'ops-app:ops-app-secret-1', commandsTableName: randomTableName('commands'), devicesTableName: randomTableName('devices'), tableName: randomTableName('telemetry'), dlqTableName: randomTableName('dlq') };
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    server = await startDynalite();
    svc = await startTestService(server.endpoint, tables);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await svc?.stop();
    await server?.stop();
  });

  it('delivers a command sent over HTTP to the subscribed device; the answer makes it answered', async () => {
    const d = await device(svc.mqttUrl, 'valve-1');
    clients.push(d.client);
    const suback = await d.client.subscribeAsync('devices/valve-1/commands/#', { qos: 1 });
    expect(suback.map((g) => g.qos)).toEqual([1]);
    const created = await post(svc, 'valve-1', { name: 'open', payload: { percent: 40 }, ttlSeconds: 60 });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ deviceId: 'valve-1', name: 'open', status: 'queued', payload: { percent: 40 } });
    const commandId = created.json.commandId as string;
    await waitFor(() => d.received.length === 1, { message: 'command not received' });
    expect(d.received[0]).toEqual({ topic: 'devices/valve-1/commands/open', body: { commandId, name: 'open', payload: { percent: 40 }, issuedAt: created.json.issuedAt } });
    await waitFor(async () => (await status(svc, 'valve-1', commandId)).status === 'delivered', { message: 'PUBACK did not make it delivered' });
    await d.client.publishAsync('devices/valve-1/commands/response', JSON.stringify({ commandId, status: 'ok', percent: 40 }), { qos: 1 });
    const answered = await status(svc, 'valve-1', commandId);
    expect(answered).toMatchObject({ status: 'answered', response: { status: 'ok', percent: 40 } });
    expect(typeof answered.deliveredAt).toBe('number');
    expect(typeof answered.answeredAt).toBe('number');
    expect(d.received).toHaveLength(1);
  });

  it('rejects a bad command body with a 400 naming the field', async () => {
    const missing = await post(svc, 'valve-1', { payload: 1 });
    expect(missing.status).toBe(400);
    expect(missing.json.problems).toEqual([expect.stringMatching(/^name: /)]);
    const ttl = await post(svc, 'valve-1', { name: 'x', ttlSeconds: 0 });
    expect(ttl.status).toBe(400);
    expect(ttl.json.problems).toEqual([expect.stringMatching(/^ttlSeconds: /)]);
    const extra = await post(svc, 'valve-1', { name: 'x', colour: 'red' });
    expect(extra.status).toBe(400);
    expect(String(extra.json.message)).toContain('colour');
    const badId = await post(svc, 'bad%20id', { name: 'x' });
    expect(badId.status).toBe(400);
    expect(badId.json.problems).toEqual([expect.stringMatching(/^deviceId: /)]);
    const notJson = await fetch(`${svc.httpUrl}/devices/valve-1/commands`, { method: 'POST', body: '{nope' });
    expect(notJson.status).toBe(400);
  });

  it('gives a device that was offline at send time its commands when it connects (clean session)', async () => {
    const first = await post(svc, 'pump-7', { name: 'start' });
    const second = await post(svc, 'pump-7', { name: 'speed', payload: 1200 });
    expect((await status(svc, 'pump-7', first.json.commandId as string)).status).toBe('queued');
    const d = await device(svc.mqttUrl, 'pump-7', { clean: true });
    clients.push(d.client);
    await d.client.subscribeAsync('devices/pump-7/commands/+', { qos: 1 });
    await waitFor(() => d.received.length === 2, { message: 'pending commands not delivered' });
    // Issued order.
    expect(d.received.map((r) => r.body.commandId)).toEqual([first.json.commandId, second.json.commandId]);
    expect(d.received.map((r) => r.topic)).toEqual(['devices/pump-7/commands/start', 'devices/pump-7/commands/speed']);
    await waitFor(async () => (await status(svc, 'pump-7', second.json.commandId as string)).status === 'delivered');
  });

  it('refuses a subscription to another device\'s commands with SUBACK 0x80 and keeps the connection', async () => {
    const d = await device(svc.mqttUrl, 'intruder');
    clients.push(d.client);
    // mqtt.js turns a SUBACK with a refusal into an error carrying the packet.
    const suback = await d.client.subscribeAsync(['devices/valve-1/commands/#', 'devices/+/commands/#', 'devices/intruder/commands/#'], { qos: 1 }).then(
      () => undefined,
      (err: { packet?: { granted?: number[] } }) => err.packet,
    );
    expect(suback?.granted).toEqual([128, 128, 1]);
    await post(svc, 'valve-1', { name: 'close' });
    const own = await post(svc, 'intruder', { name: 'ping' });
    await waitFor(() => d.received.length === 1);
    expect(d.received.map((r) => r.body.commandId)).toEqual([own.json.commandId]);
    expect(d.client.connected).toBe(true);
    expect(metricValue(await scrape(svc.httpUrl), 'iot_ingest_acl_denials_total', { action: 'subscribe', reason: 'not_own_topic' })).toBe(2);
  });

  it('resends a command that was not acknowledged, on the next connection', async () => {
    // A device that never sends PUBACK: mqtt.js sends it once handleMessage calls back.
    const lazy = await device(svc.mqttUrl, 'lazy-1');
    lazy.client.handleMessage = (_packet, _callback) => undefined;
    const created = await post(svc, 'lazy-1', { name: 'reboot' });
    await lazy.client.subscribeAsync('devices/lazy-1/commands/#', { qos: 1 });
    await waitFor(() => lazy.received.length === 1);
    await lazy.client.endAsync(true);
    expect((await status(svc, 'lazy-1', created.json.commandId as string)).status).toBe('queued');
    const again = await device(svc.mqttUrl, 'lazy-1');
    clients.push(again.client);
    await again.client.subscribeAsync('devices/lazy-1/commands/#', { qos: 1 });
    await waitFor(() => again.received.length === 1, { message: 'unacknowledged command not resent' });
    expect(again.received[0]?.body.commandId).toBe(created.json.commandId);
    await waitFor(async () => (await status(svc, 'lazy-1', created.json.commandId as string)).status === 'delivered');
  });

  it('sends a command from the CLI (as a process), waits for the answer and prints it', async () => {
    const d = await device(svc.mqttUrl, 'lamp-3');
    clients.push(d.client);
    d.client.on('message', (topic, payload) => {
      const { commandId } = JSON.parse(payload.toString()) as { commandId: string };
      void d.client.publishAsync('devices/lamp-3/commands/response', JSON.stringify({ commandId, status: 'ok', lux: 300 }), { qos: 1 });
    });
    await d.client.subscribeAsync('devices/lamp-3/commands/#', { qos: 1 });
    const out = await runCli(['command', 'lamp-3', 'dim', '--payload', '{"level":3}', '--wait', '--timeout-seconds', '20', '--json', '--url', svc.httpUrl]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const printed = JSON.parse(out.stdout) as Record<string, unknown>;
    expect(printed).toMatchObject({ deviceId: 'lamp-3', name: 'dim', payload: { level: 3 }, status: 'answered', response: { status: 'ok', lux: 300 } });
    expect(d.received.map((r) => r.body.commandId)).toEqual([printed.commandId]);
    const bad = await runCli(['command', 'lamp-3', 'dim', '--payload', '{oops', '--url', svc.httpUrl]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/--payload .*must be JSON/);
  });

  it('expires a command not answered in time and never delivers it afterwards', async () => {
    const late = await post(svc, 'gone-1', { name: 'wake', ttlSeconds: 1 });
    await waitFor(async () => (await status(svc, 'gone-1', late.json.commandId as string)).status === 'expired', { timeoutMs: 5_000 });
    const d = await device(svc.mqttUrl, 'gone-1');
    clients.push(d.client);
    await d.client.subscribeAsync('devices/gone-1/commands/#', { qos: 1 });
    const fresh = await post(svc, 'gone-1', { name: 'wake' });
    await waitFor(() => d.received.length === 1);
    expect(d.received.map((r) => r.body.commandId)).toEqual([fresh.json.commandId]);
    // The delivery attempt wrote the expiry; an answer now changes nothing.
    await d.client.publishAsync('devices/gone-1/commands/response', JSON.stringify({ commandId: late.json.commandId, status: 'ok' }), { qos: 1 });
    const text = await scrape(svc.httpUrl);
    expect(metricValue(text, 'iot_ingest_command_transitions_total', { to: 'expired' })).toBe(1);
    expect(metricValue(text, 'iot_ingest_command_responses_refused_total', { reason: 'expired' })).toBe(1);
    expect((await status(svc, 'gone-1', late.json.commandId as string)).status).toBe('expired');
  });

  it('takes a command an application publishes over MQTT through the table', async () => {
    const d = await device(svc.mqttUrl, 'fan-2');
    clients.push(d.client);
    await d.client.subscribeAsync('devices/fan-2/commands/#', { qos: 1 });
    const app = await connectAsync(svc.mqttUrl, { clientId: 'ops-console', username: 'ops-app', password: 'ops-app-secret-1', reconnectPeriod: 0 });
    clients.push(app);
    await app.publishAsync('devices/fan-2/commands/speed', JSON.stringify({ rpm: 900 }), { qos: 1 });
    await waitFor(() => d.received.length === 1);
    // Exactly one copy: the table's, not the broker's forward of the raw publish.
    expect(d.received[0]).toMatchObject({ topic: 'devices/fan-2/commands/speed', body: { name: 'speed', payload: { rpm: 900 } } });
    await waitFor(async () => (await status(svc, 'fan-2', d.received[0]?.body.commandId as string)).status === 'delivered');
    expect(d.received).toHaveLength(1);
    // A wrong application secret is refused at CONNECT.
    await expect(connectAsync(svc.mqttUrl, { clientId: 'ops-x', username: 'ops-app', password: 'wrong-secret', reconnectPeriod: 0 })).rejects.toThrow(/Bad username or password/i);
  });

  it('does not redeliver an acknowledged command after a service restart', async () => {
    const d = await device(svc.mqttUrl, 'door-9');
    await d.client.subscribeAsync('devices/door-9/commands/#', { qos: 1 });
    const acked = await post(svc, 'door-9', { name: 'lock' });
    await waitFor(async () => (await status(svc, 'door-9', acked.json.commandId as string)).status === 'delivered');
    await d.client.endAsync(true);
    await svc.stop();
    svc = await startTestService(server.endpoint, tables);
    const after = await device(svc.mqttUrl, 'door-9');
    clients.push(after.client);
    await after.client.subscribeAsync('devices/door-9/commands/#', { qos: 1 });
    const next = await post(svc, 'door-9', { name: 'unlock' });
    await waitFor(async () => (await status(svc, 'door-9', next.json.commandId as string)).status === 'delivered');
    expect(after.received.map((r) => r.body.name)).toEqual(['unlock']);
    expect((await status(svc, 'door-9', acked.json.commandId as string)).status).toBe('delivered');
  });
});
