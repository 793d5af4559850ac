// What a client sees, as the README states: 3.1.1 (and 3.1) connect; an MQTT 5 client is refused at
// CONNECT with return code 1, "unacceptable protocol version"; a SUBSCRIBE where the client may not
// gets SUBACK 0x80 and keeps the connection; a PUBLISH where it may not closes the connection.
import { connect, connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynalite } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { startTestService } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

function outcome(client: MqttClient): Promise<{ connected: boolean; code?: number; message?: string }> {
  return new Promise((resolve) => {
    client.once('connect', () => resolve({ connected: true }));
    client.once('error', (err: Error & { code?: number }) => resolve({ connected: false, code: err.code, message: err.message }));
  });
}

describe('MQTT protocol versions', () => {
  let dynamo: DynamoServer;
  let svc: TestService;
  beforeAll(async () => {
    dynamo = await startDynalite();
    svc = await startTestService(dynamo.endpoint);
  });
  afterAll(async () => {
    await svc?.stop();
    await dynamo?.stop();
  });

  it.each([[3, 'MQIsdp'], [4, 'MQTT']] as const)('protocol level %i connects', async (protocolVersion, protocolId) => {
    const client = connect(svc.mqttUrl, { protocolVersion, protocolId, clientId: `v${protocolVersion}-dev`, reconnectPeriod: 0 });
    expect(await outcome(client)).toEqual({ connected: true });
    await client.endAsync();
  });

  it('an MQTT 5 client is refused with return code 1 (unacceptable protocol version)', async () => {
    const client = connect(svc.mqttUrl, { protocolVersion: 5, clientId: 'v5-dev', reconnectPeriod: 0 });
    const result = await outcome(client);
    client.end(true);
    expect(result).toEqual({ connected: false, code: 1, message: 'Connection refused: Unacceptable protocol version' });
  });

  it('a device subscribing to another device\'s topic gets SUBACK 0x80 and stays connected; publishing outside the telemetry topics closes the connection', async () => {
    const client = await connectAsync(svc.mqttUrl, { clientId: 'nosy-dev', reconnectPeriod: 0 });
    // mqtt.js turns a SUBACK failure code into a rejection that carries the packet.
    const refused = await client.subscribeAsync('devices/other-dev/telemetry', { qos: 1 }).then(() => undefined, (err: { packet?: { granted?: number[] } }) => err);
    expect(refused?.packet?.granted).toEqual([128]);
    expect(client.connected).toBe(true);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish('sensors/nosy-dev', JSON.stringify({ ts: Date.now(), v: 1 }), { qos: 1 });
    await closed;
    expect(client.connected).toBe(false);
    client.end(true);
  });
});
