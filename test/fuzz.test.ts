// Fuzz: at least 10,000 malformed MQTT packets and payloads from many connections (random bytes,
// truncated packets, bad remaining lengths, invalid UTF-8, wildcard topics in PUBLISH, QoS 3,
// packet id 0, random CONNECT fields, deep JSON nesting, huge arrays, partial packets that never
// complete), generated from a seeded PRNG so a failure replays. The service runs as a process: it
// stays up and ready, its RSS stays under RSS_BOUND_BYTES, and a well-behaved device publishing
// throughout is never disconnected and loses nothing it was acknowledged for.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../simulator/prng.ts';
import type { Random } from '../simulator/prng.ts';
import { createDynamoClients } from '../src/storage/client.ts';
import type { DynamoClients } from '../src/storage/client.ts';
import { randomTableName, startDynalite, waitFor } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { connectPacket, publishPacket, rawSession, remainingLength } from './helpers/mqtt-raw.ts';
import type { RawSession } from './helpers/mqtt-raw.ts';
import { metricValue, scrape, spawnService } from './helpers/service.ts';
import type { SpawnedService } from './helpers/service.ts';
import { startSteadyDevice } from './helpers/steady-device.ts';

const SEED = 20_261_201;
const MIN_PACKETS = 10_000;
const TIME_BUDGET_MS = 120_000;
const WORKERS = 16;
const RSS_BOUND_BYTES = 400 * 1024 * 1024;

const int = (rnd: Random, lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
const bytes = (rnd: Random, n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(rnd, 0, 255)));
const pick = <T>(rnd: Random, items: readonly T[]): T => items[int(rnd, 0, items.length - 1)] as T;

/** One malformed packet (or payload) of a random kind, for a session whose client id is `id`. */
function malformed(rnd: Random, id: string): { kind: string; packet: Buffer } {
  const topic = `devices/${id}/telemetry`;
  const good = publishPacket(topic, JSON.stringify({ ts: Date.now() - 10_000, v: rnd() }), 1, int(rnd, 1, 65535));
  const kinds: (() => Buffer)[] = [
    () => bytes(rnd, int(rnd, 1, 300)),
    () => good.subarray(0, int(rnd, 1, good.length - 1)),
    () => Buffer.concat([Buffer.from([0x32, 0xff, 0xff, 0xff, 0xff, 0x7f]), bytes(rnd, 20)]),
    () => Buffer.concat([Buffer.from([0x32]), remainingLength(3), Buffer.from([0x00, 0x64, 0x41])]),
    () => publishPacket(Buffer.concat([Buffer.from('devices/'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('/telemetry')]), '{"v":1}', 1, 9),
    () => publishPacket(pick(rnd, ['devices/+/telemetry', '#', 'devices/#', '+/+/+']), '{"v":1}', int(rnd, 0, 1) as 0 | 1, 5),
    () => publishPacket(topic, '{"v":1}', 3, 5),
    () => publishPacket(topic, '{"v":1}', 1, 0),
    () => connectPacket({ clientId: id, level: int(rnd, 0, 255), clean: rnd() < 0.5, keepalive: int(rnd, 0, 65535) }),
    () => publishPacket(topic, `${'['.repeat(int(rnd, 50, 5_000))}1${']'.repeat(10)}`, int(rnd, 0, 1) as 0 | 1, 6),
    () => publishPacket(topic, `[${Array.from({ length: int(rnd, 1_000, 20_000) }, (_, i) => i).join(',')}]`, int(rnd, 0, 1) as 0 | 1, 7),
    () => publishPacket(topic, Buffer.concat([Buffer.from('{"v":"'), Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), Buffer.from('"}')]), int(rnd, 0, 1) as 0 | 1, 8),
    () => publishPacket(topic, bytes(rnd, int(rnd, 1, 2_000)), int(rnd, 0, 1) as 0 | 1, 10),
    () => Buffer.concat([Buffer.from([0x32]), remainingLength(50_000), bytes(rnd, 100)]), // never completes
  ];
  const index = int(rnd, 0, kinds.length - 1);
  return { kind: String(index), packet: (kinds[index] as () => Buffer)() };
}

describe('fuzz: malformed MQTT from many connections', () => {
  let dynamo: DynamoServer;
  let svc: SpawnedService;
  let db: DynamoClients;
  const table = randomTableName('telemetry');

  beforeAll(async () => {
    dynamo = await startDynalite();
    svc = await spawnService([
      '--dynamodb-endpoint', dynamo.endpoint, '--table', table, '--dlq-table', randomTableName('dlq'),
      '--mqtt-host', '127.0.0.1', '--http-host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0',
      '--max-connects-per-ip-per-second', '100000', '--connect-timeout-ms', '2000',
    ]);
    db = createDynamoClients({ endpoint: dynamo.endpoint, region: 'us-east-1' });
  }, 60_000);
  afterAll(async () => {
    if (svc && svc.proc.exitCode === null) {
      svc.proc.kill('SIGTERM');
      await svc.exited;
    }
    db?.destroy();
    await dynamo?.stop();
  });

  it(`survives ${MIN_PACKETS.toLocaleString('en')} malformed packets with bounded memory and no loss for a well-behaved device`, async () => {
    const httpUrl = `http://127.0.0.1:${svc.httpPort}`;
    const steady = await startSteadyDevice(`mqtt://127.0.0.1:${svc.mqttPort}`, 'steady-fuzz', 20);
    let peakRss = 0;
    const sampler = setInterval(() => {
      scrape(httpUrl).then((t) => (peakRss = Math.max(peakRss, metricValue(t, 'process_resident_memory_bytes'))), () => {});
    }, 500);
    const rnd = mulberry32(SEED);
    const kinds = new Map<string, number>();
    let sent = 0;
    let sessions = 0;
    const deadline = Date.now() + TIME_BUDGET_MS;
    const held: RawSession[] = [];

    const worker = async (): Promise<void> => {
      while (sent < MIN_PACKETS && Date.now() < deadline) {
        const id = `fz-${sessions++}`;
        const withConnect = rnd() < 0.85;
        const s = await rawSession(svc.mqttPort, withConnect ? connectPacket({ clientId: id, keepalive: 2 }) : undefined);
        const count = int(rnd, 1, 5);
        for (let i = 0; i < count && !s.isClosed(); i++) {
          const { kind, packet } = malformed(rnd, id);
          kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
          s.socket.write(packet);
          sent += 1;
        }
        // Most sessions are closed by the broker at once; keep a few open ones to the end (partial packets).
        await Promise.race([s.closed, new Promise((resolve) => setTimeout(resolve, 100))]);
        if (!s.isClosed()) {
          if (held.length < 200) held.push(s);
          else s.socket.destroy();
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, () => worker()));
    // The held sessions (partial packets, keepalive 2 s) are closed by the broker, not by us.
    await Promise.all(held.map((s) => Promise.race([s.closed, new Promise((resolve) => setTimeout(resolve, 10_000))])));
    const stillOpen = held.filter((s) => !s.isClosed()).length;
    for (const s of held) s.socket.destroy();
    await steady.stop();
    clearInterval(sampler);

    console.info(`fuzz: ${sent} packets over ${sessions} connections, peak RSS ${Math.round(peakRss / 1048576)} MiB`);
    expect(sent).toBeGreaterThanOrEqual(MIN_PACKETS);
    expect(kinds.size).toBe(14); // every kind was generated
    expect(stillOpen).toBe(0);
    expect(svc.proc.exitCode).toBeNull();
    expect((await fetch(`${httpUrl}/readyz`)).status).toBe(200);
    const text = await scrape(httpUrl);
    peakRss = Math.max(peakRss, metricValue(text, 'process_resident_memory_bytes'));
    expect(peakRss).toBeGreaterThan(0);
    expect(peakRss).toBeLessThan(RSS_BOUND_BYTES);
    expect(metricValue(text, 'iot_ingest_invalid_messages_total')).toBeGreaterThan(0);
    expect(metricValue(text, 'iot_ingest_protocol_violations_total')).toBeGreaterThan(0);
    expect(steady.closes()).toBe(0);
    expect(steady.acked.length).toBeGreaterThan(50);
    await waitFor(async () => (await steady.missing(db.doc, table)).length === 0, { timeoutMs: 20_000, message: 'acknowledged readings missing' });
  }, 240_000);
});
