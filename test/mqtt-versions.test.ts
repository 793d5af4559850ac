// Which MQTT versions the service serves, as the README states: 3.1.1 (and 3.1) connect; an MQTT 5
// client is refused at CONNECT with return code 1, "unacceptable protocol version".
import { connect } from 'mqtt';
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
});
