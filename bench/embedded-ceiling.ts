// Reference point "embedded-ceiling": what the embedded store itself can take. Starts dynalite the
// way the service does (src/storage/embedded.ts: child process, data on disk), pre-builds
// BatchWriteItem bodies of 25 items (the bench's thermostat reading, encoded once before the clock
// starts) and posts them with a direct client (the project's signed HTTP transport, keep-alive) at a
// fixed concurrency, no broker. Every item it posts has a key of its own, as every reading the
// pipeline stores has: each pass over the bodies moves their ts on (see `bodyText`). Forked by
// bench/run.ts with <data-dir> <warmup-s> <duration-s> <concurrency> [<warmup-items>
// <warmup-max-s>]: the warm-up lasts warmup-s at least and until warmup-items are stored, at most
// warmup-max-s (as the MQTT scenarios' warm-up does with PUBACKs); reports items stored per second
// over IPC.
import { pino } from 'pino';
import { startEmbeddedDynamo } from '../src/storage/embedded.ts';
import { createHttpTransport } from '../src/storage/dynamodb/http-transport.ts';
import { batchWriteBody, encodeItem } from '../src/storage/dynamodb/wire.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ensureTable, telemetryTableSpec } from '../src/storage/tables.ts';
import { toParent } from './ipc.ts';
import { cpuSeconds } from './procfs.ts';
import { untilCount } from './warmup.ts';

const TABLE = 'telemetry';
const BODIES = 4_000;
const DEVICES = 200;
/** How far a pass over the bodies moves each device's ts: the readings per device in one pass. */
const TS_PER_PASS = (BODIES * 25) / DEVICES;
/** An item's ts value in wire JSON (the only attribute named ts). */
const TS_VALUE = /(?<="ts":\{"N":")\d+(?=")/g;
const [dataDir, warmupArg, durationArg, concurrencyArg, warmupItemsArg, warmupMaxArg] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: embedded-ceiling.ts <data-dir> <warmup-s> <duration-s> <concurrency> [<warmup-items> <warmup-max-s>]');
const warmupItems = Number(warmupItemsArg ?? 0);
const warmupMaxS = Number(warmupMaxArg ?? 20);
const warmupS = Number(warmupArg ?? 3);
const durationS = Number(durationArg ?? 10);
const concurrency = Number(concurrencyArg ?? 16);

try {
  const log = pino({ level: 'warn' });
  const embedded = await startEmbeddedDynamo({ port: 0, dataDir, log });
  const client = new DynamoDBClient({ endpoint: embedded.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await ensureTable(client, telemetryTableSpec(TABLE), { create: true, log });
  client.destroy();
  const transport = await createHttpTransport({ endpoint: embedded.endpoint, region: 'us-east-1', maxSockets: concurrency }, TABLE);

  const receivedAt = Date.now();
  // Each body is kept cut around its items' ts values: the k-th pass over the bodies writes them with
  // ts + k × TS_PER_PASS, so no key is written twice. Sending the same bodies again overwrote the first
  // pass's items from the 100,000th on, and dynalite stores an overwrite more slowly than a new item
  // (it reads the old one first): three alternating pairs, 10.2 / 9.7 / 11.3 k items/s against
  // 11.2 / 11.0 / 12.2 k with every key new.
  const bodies: { readonly parts: string[]; readonly ts: number[] }[] = [];
  for (let b = 0; b < BODIES; b++) {
    const items: string[] = [];
    for (let i = 0; i < 25; i++) {
      const n = b * 25 + i;
      items.push(encodeItem({
        deviceId: `bench-${n % DEVICES}`, ts: 1_732_480_000_000 + Math.floor(n / DEVICES), receivedAt, sizeBytes: 200,
        attributes: { temperature: 18 + (n % 700) / 100, humidity: 30 + ((n * 7) % 3000) / 100, battery: 87, rssi: -67, firmware: '2.4.1', mode: 'heat', setpoint: 21.5, heating: true, status: 'ok' },
      }, undefined));
    }
    const text = batchWriteBody(TABLE, items);
    bodies.push({ parts: text.split(TS_VALUE), ts: [...text.matchAll(TS_VALUE)].map((m) => Number(m[0])) });
  }
  const bodyText = (sent: number): string => {
    const { parts, ts } = bodies[sent % BODIES] as (typeof bodies)[number];
    const shift = Math.floor(sent / BODIES) * TS_PER_PASS;
    let text = parts[0] as string;
    for (let i = 0; i < ts.length; i++) text += String((ts[i] as number) + shift) + (parts[i + 1] as string);
    return text;
  };

  let next = 0;
  let stored = 0;
  let failed = 0;
  let running = true;
  const worker = async (): Promise<void> => {
    while (running) {
      const body = bodyText(next++);
      try {
        const out = await transport.send(body);
        stored += 25 - out.unprocessedKeys.length;
      } catch {
        failed++;
      }
    }
  };
  const workers = Array.from({ length: concurrency }, () => worker());
  const warmupStarted = performance.now();
  await new Promise((resolve) => setTimeout(resolve, warmupS * 1000));
  await untilCount(() => stored, warmupItems, warmupStarted + warmupMaxS * 1000);
  const warmedS = (performance.now() - warmupStarted) / 1000;
  const startStored = stored;
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const storePid = embedded.pid();
  const storeCpuStart = storePid === undefined ? 0 : cpuSeconds(storePid);
  await new Promise((resolve) => setTimeout(resolve, durationS * 1000));
  const elapsedS = (performance.now() - started) / 1000;
  const measured = stored - startStored;
  const cpu = process.cpuUsage(cpuStart);
  const storeCpuS = storePid === undefined ? NaN : cpuSeconds(storePid) - storeCpuStart;
  running = false;
  await Promise.all(workers);
  await transport.close();
  await embedded.stop();
  toParent({ type: 'ceiling', storedPerS: measured / elapsedS, failed, clientCpuCores: (cpu.user + cpu.system) / 1e6 / elapsedS, storeCpuCores: storeCpuS / elapsedS, concurrency, warmupS: warmedS });
  process.disconnect?.();
} catch (err) {
  toParent({ type: 'error', message: (err as Error).message });
  process.exit(1);
}
