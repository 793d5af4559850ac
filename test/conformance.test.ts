// MQTT conformance where it protects the service, over raw sockets: QoS 1 with packet id 0 is
// refused, an empty client id with clean=0 gets CONNACK 2, protocol levels other than 3.1/3.1.1 get
// CONNACK 1, and the CONNECT bounds (keepalive, client-id length) and PUBLISH bounds (topic length
// and levels, QoS 3) close or refuse as documented, each counted; nothing refused is stored.
import { connect as mqttConnect } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynalite, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { CONNACK_OK, connack, connectPacket, publishPacket, rawSession } from './helpers/mqtt-raw.ts';
import { metricValue, scanAll, scrape, startTestService } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

describe('MQTT conformance and CONNECT/PUBLISH bounds', () => {
  let server: DynamoServer;
  let svc: TestService;
  let port: number;

  beforeAll(async () => {
    server = await startDynalite();
    svc = await startTestService(server.endpoint, { maxKeepaliveSeconds: 600, maxClientIdLength: 64, maxTopicBytes: 100, maxTopicLevels: 4 });
    port = svc.service.mqttPort;
  });
  afterAll(async () => {
    await svc?.stop();
    await server?.stop();
  });

  const counter = async (name: string, labels: Record<string, string>): Promise<number> => metricValue(await scrape(svc.httpUrl), name, labels);

  /** Opens a raw session, expects `expected` as the whole answer, then a close. */
  async function expectAnswerThenClose(packets: Buffer, expected: Buffer): Promise<void> {
    const s = await rawSession(port, packets);
    await s.closed;
    expect(s.received()).toEqual(expected);
  }

  it('a QoS 1 PUBLISH with packet id 0 closes the connection, unacknowledged and unstored', async () => {
    const before = await counter('iot_ingest_protocol_violations_total', { violation: 'packet_id_zero' });
    const ts = Date.now() - 1_000;
    await expectAnswerThenClose(
      Buffer.concat([connectPacket({ clientId: 'pid0' }), publishPacket('devices/pid0/telemetry', JSON.stringify({ ts, v: 1 }), 1, 0)]),
      CONNACK_OK,
    );
    expect(await counter('iot_ingest_protocol_violations_total', { violation: 'packet_id_zero' })).toBe(before + 1);
    expect((await scanAll(svc.clients.doc, svc.config.tableName)).filter((i) => i.deviceId === 'pid0')).toEqual([]);
  });

  it('an empty client id with clean=0 gets CONNACK 2 (MQTT-3.1.3-8)', async () => {
    const before = await counter('iot_ingest_protocol_violations_total', { violation: 'empty_client_id' });
    await expectAnswerThenClose(connectPacket({ clientId: '', clean: false }), connack(2));
    expect(await counter('iot_ingest_protocol_violations_total', { violation: 'empty_client_id' })).toBe(before + 1);
  });

  it('an empty client id with clean=1 is accepted (the broker assigns one)', async () => {
    const s = await rawSession(port, connectPacket({ clientId: '', clean: true }));
    await waitFor(() => s.received().length >= 4);
    expect(s.received()).toEqual(CONNACK_OK);
    s.socket.destroy();
  });

  it.each([
    ['5 (MQTT 5)', 5, 0],
    ['6 (unknown)', 6, 1],
    ['2', 2, 1],
  ])('protocol level %s gets CONNACK 1 and a close', async (_name, level, counted) => {
    const before = await counter('iot_ingest_protocol_violations_total', { violation: 'protocol_level' });
    await expectAnswerThenClose(connectPacket({ clientId: `lvl-${level}`, level }), connack(1));
    // Level 5 is parsed and answered by aedes itself; the others by the packet framer (counted).
    expect(await counter('iot_ingest_protocol_violations_total', { violation: 'protocol_level' })).toBe(before + counted);
  });

  it('an MQTT 5 client (mqtt.js, protocolVersion 5) is refused with an error, not left hanging', async () => {
    const client = mqttConnect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: 'v5-client', reconnectPeriod: 0, connectTimeout: 5_000 });
    const outcome = await new Promise<string>((resolve) => {
      client.once('connect', () => resolve('connected'));
      client.once('error', (err) => resolve(`error: ${err.message}`));
      client.once('close', () => resolve('closed'));
    });
    client.end(true);
    expect(outcome).toMatch(/^error: .*Unacceptable protocol version/);
  });

  it.each([
    ['keepalive 0 (not allowed by default)', { keepalive: 0 }, 'keepalive'],
    ['keepalive above the maximum', { keepalive: 601 }, 'keepalive'],
    ['a client id longer than the limit', { clientId: 'x'.repeat(65) }, 'client_id_length'],
  ])('%s gets CONNACK 2 and is counted', async (_name, options, limit) => {
    const before = await counter('iot_ingest_limit_hits_total', { limit });
    await expectAnswerThenClose(connectPacket({ clientId: 'bounds', ...options }), connack(2));
    expect(await counter('iot_ingest_limit_hits_total', { limit })).toBe(before + 1);
  });

  it.each([
    ['a topic longer than the limit', `devices/${'a'.repeat(100)}/telemetry`, 'topic_bytes'],
    ['a topic of fewer characters than the limit but more UTF-8 bytes', `devices/${'é'.repeat(50)}/telemetry`, 'topic_bytes'],
    ['a topic deeper than the limit', 'devices/a/b/c/telemetry', 'topic_levels'],
  ])('%s closes the connection unacknowledged and is counted', async (_name, topic, limit) => {
    const before = await counter('iot_ingest_limit_hits_total', { limit });
    await expectAnswerThenClose(Buffer.concat([connectPacket({ clientId: 'topics' }), publishPacket(topic, '{"v":1}', 1, 7)]), CONNACK_OK);
    expect(await counter('iot_ingest_limit_hits_total', { limit })).toBe(before + 1);
  });

  it('QoS 3 closes the connection, unacknowledged', async () => {
    const s = await rawSession(port, connectPacket({ clientId: 'qos3' }));
    await waitFor(() => s.received().length >= 4);
    s.socket.write(publishPacket('devices/qos3/telemetry', '{"v":1}', 3, 7));
    await s.closed;
    expect(s.received()).toEqual(CONNACK_OK);
  });
});
