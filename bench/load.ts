// The load generator, forked by bench/run.ts into its own process: N raw TCP connections speaking
// hand-encoded MQTT 3.1.1. In `load` mode each connection keeps `window` QoS 1 PUBLISHes in flight
// (a new one leaves for every PUBACK), and the PUBACK latency of each message (send -> PUBACK) goes
// into a log-bucket histogram. In `idle` mode connections only CONNECT and sit there (RSS phase).
//
// With --rate R (messages/s over all connections) it paces instead: one PUBLISH per TCP segment,
// round-robin over the connections, skipping a connection whose window is full (counted): latency
// at a load every scenario can carry, rather than at saturation.
//
// Driven over IPC: it reports "connected", then waits for "start" (publish), "measure" (reset the
// counters: warm-up is over) and "stop" (reply with the result and exit).
//
// Standalone: node --import tsx bench/load.ts --port 1883 [--connections 200] [--window 20]
//             [--mode load|idle] [--rate R] [--prefix bench]   (prints the result after --seconds)
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { onParent, toParent } from './ipc.ts';
import type { LoadResult, ParentMessage } from './ipc.ts';
import { PACKET_TYPE, PacketReader, encodeConnect, encodePublishQos1Template } from './mqtt-wire.ts';
import type { PublishTemplate } from './mqtt-wire.ts';

const { values: args } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    connections: { type: 'string', default: '200' },
    window: { type: 'string', default: '20' },
    mode: { type: 'string', default: 'load' },
    prefix: { type: 'string', default: 'bench' },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '0' },
  },
});
if (args.port === undefined) throw new Error('--port is required');
const HOST = args.host;
const PORT = Number(args.port);
const CONNECTIONS = Number(args.connections);
const WINDOW = Number(args.window);
const MODE = args.mode === 'idle' ? 'idle' : 'load';
const RATE = Number(args.rate);
const CONNECT_PARALLEL = 64;
const CONNECT_TIMEOUT_MS = 30_000;
const KEEPALIVE_S = 120;

// ---- latency histogram: log buckets 2% wide, from 1 µs to well past a minute -----------------
const BUCKET_BASE = Math.log(1.02);
const histogram = new Uint32Array(1100);
let maxLatencyMs = 0;

function recordLatency(ms: number): void {
  const us = Math.max(1, ms * 1000);
  const i = Math.min(histogram.length - 1, Math.floor(Math.log(us) / BUCKET_BASE));
  histogram[i] = (histogram[i] as number) + 1;
  if (ms > maxLatencyMs) maxLatencyMs = ms;
}

function percentileMs(p: number): number {
  let total = 0;
  for (const n of histogram) total += n;
  if (total === 0) return 0;
  const rank = Math.ceil(total * p);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i] as number;
    if (seen >= rank) return Math.min(maxLatencyMs, Math.exp((i + 0.5) * BUCKET_BASE) / 1000);
  }
  return maxLatencyMs;
}

// ---- payload: a thermostat reading with fixed-width fields patched in place ---------------------
const PAYLOAD_TEXT =
  '{"ts":1732480000123,"temperature":21.47,"humidity":40.12,"battery":87,"rssi":-67,' +
  '"firmware":"2.4.1","mode":"heat","setpoint":21.5,"heating":true,"status":"ok"}';
const TS_FIELD = PAYLOAD_TEXT.indexOf('1732480000123');
const TEMPERATURE_FIELD = PAYLOAD_TEXT.indexOf('21.47');
const HUMIDITY_FIELD = PAYLOAD_TEXT.indexOf('40.12');

interface Connection {
  readonly index: number;
  readonly socket: Socket;
  readonly template: PublishTemplate;
  /** performance.now() at send, by packet id; 0 = id free. */
  readonly sentAt: Float64Array;
  nextPacketId: number;
  inflight: number;
  seq: number;
  lastTs: number;
  closedByServer: boolean;
}

const PACKET_IDS = Math.min(65535, Math.max(1024, WINDOW * 4));
const connections: Connection[] = [];
let publishing = false;
let stopped = false;
let sent = 0;
let acked = 0;
let disconnects = 0;
let skipped = 0;

/** Sends `n` PUBLISHes on one connection in one write (default: as many as its window allows). */
function fill(conn: Connection, n = WINDOW - conn.inflight): void {
  if (!publishing || n <= 0 || conn.socket.destroyed) return;
  const { packet, packetIdOffset, payloadOffset } = conn.template;
  const out = Buffer.allocUnsafe(packet.length * n);
  const now = performance.now();
  const wallNow = Date.now();
  for (let k = 0; k < n; k++) {
    let id = conn.nextPacketId;
    while (conn.sentAt[id] !== 0) id = id >= PACKET_IDS ? 1 : id + 1;
    conn.nextPacketId = id >= PACKET_IDS ? 1 : id + 1;
    conn.sentAt[id] = now;
    const at = k * packet.length;
    packet.copy(out, at);
    out.writeUInt16BE(id, at + packetIdOffset);
    // Unique ts per device: its clock, or one past its last reading when it sends faster than 1/ms.
    const ts = Math.max(wallNow, conn.lastTs + 1);
    conn.lastTs = ts;
    out.write(String(ts), at + payloadOffset + TS_FIELD, 'latin1');
    const s = conn.seq++;
    out.write((18 + (s % 700) / 100).toFixed(2), at + payloadOffset + TEMPERATURE_FIELD, 'latin1');
    out.write((30 + ((s * 7) % 3000) / 100).toFixed(2), at + payloadOffset + HUMIDITY_FIELD, 'latin1');
  }
  conn.inflight += n;
  sent += n;
  conn.socket.write(out);
}

function open(index: number): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const deviceId = `${args.prefix}-${index}`;
    const socket = connect({ host: HOST, port: PORT });
    socket.setNoDelay(true);
    const conn: Connection = {
      index,
      socket,
      template: encodePublishQos1Template(`devices/${deviceId}/telemetry`, Buffer.from(PAYLOAD_TEXT, 'latin1')),
      sentAt: new Float64Array(PACKET_IDS + 1),
      nextPacketId: 1,
      inflight: 0,
      seq: 0,
      lastTs: 0,
      closedByServer: false,
    };
    let connected = false;
    const reader = new PacketReader((type, body) => {
      if (type === PACKET_TYPE.PUBACK) {
        const id = body.readUInt16BE(0);
        const at = conn.sentAt[id] as number;
        if (at === 0) return;
        conn.sentAt[id] = 0;
        conn.inflight--;
        acked++;
        recordLatency(performance.now() - at);
      } else if (type === PACKET_TYPE.CONNACK) {
        if (body[1] !== 0) {
          reject(new Error(`${deviceId}: CONNACK return code ${body[1]}`));
          socket.destroy();
          return;
        }
        connected = true;
        resolve(conn);
      }
    });
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      if (RATE === 0 && conn.inflight < WINDOW) fill(conn);
    });
    socket.on('error', (err) => {
      if (!connected) reject(err);
    });
    socket.on('close', () => {
      if (!connected) reject(new Error(`${deviceId}: connection closed before CONNACK`));
      else if (!stopped) {
        conn.closedByServer = true;
        disconnects++;
      }
    });
    socket.write(encodeConnect(deviceId, KEEPALIVE_S));
  });
}

async function openAll(): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < CONNECTIONS) {
      const i = next++;
      connections.push(await open(i));
    }
  };
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`could not open ${CONNECTIONS} connections within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS).unref(),
  );
  await Promise.race([Promise.all(Array.from({ length: Math.min(CONNECT_PARALLEL, CONNECTIONS) }, worker)), timeout]);
}

/** Paced mode: every few ms, send what the rate allows since the last tick, round-robin. */
function startPacer(): void {
  let last = performance.now();
  let credit = 0;
  let next = 0;
  setInterval(() => {
    const now = performance.now();
    credit += ((now - last) / 1000) * RATE;
    last = now;
    for (; credit >= 1; credit--) {
      const conn = connections[next++ % connections.length] as Connection;
      if (conn.inflight < WINDOW) fill(conn, 1);
      else skipped++;
    }
  }, 2);
}

let measureStartedAt = performance.now();
let measureCpu = process.cpuUsage();

function resetCounters(): void {
  sent = 0;
  acked = 0;
  disconnects = 0;
  skipped = 0;
  histogram.fill(0);
  maxLatencyMs = 0;
  measureStartedAt = performance.now();
  measureCpu = process.cpuUsage();
}

function result(): LoadResult {
  const elapsedMs = performance.now() - measureStartedAt;
  const cpu = process.cpuUsage(measureCpu);
  return {
    connections: connections.length,
    window: WINDOW,
    elapsedS: elapsedMs / 1000,
    sent,
    acked,
    p50Ms: percentileMs(0.5),
    p90Ms: percentileMs(0.9),
    p99Ms: percentileMs(0.99),
    maxMs: maxLatencyMs,
    disconnects,
    skipped,
    cpuCores: (cpu.user + cpu.system) / 1000 / elapsedMs,
  };
}

function closeAll(): void {
  stopped = true;
  publishing = false;
  for (const c of connections) c.socket.destroy();
}

function handle(message: ParentMessage): void {
  if (message.type === 'start' && MODE === 'load') {
    publishing = true;
    resetCounters();
    if (RATE > 0) startPacer();
    else for (const c of connections) fill(c);
  } else if (message.type === 'measure') {
    resetCounters();
  } else if (message.type === 'acked') {
    toParent({ type: 'acked', acked });
  } else if (message.type === 'stop') {
    const r = result();
    closeAll();
    toParent({ type: 'result', result: r });
    setTimeout(() => process.exit(0), 200).unref();
  }
}

const started = performance.now();
try {
  await openAll();
} catch (err) {
  toParent({ type: 'error', message: (err as Error).message });
  closeAll();
  process.exit(1);
}

if (process.send) {
  onParent(handle, () => {
    closeAll();
    process.exit(0);
  });
  toParent({ type: 'connected', connections: connections.length, ms: performance.now() - started });
} else {
  // Standalone run: publish for --seconds, then print the result.
  handle({ type: 'start' });
  setTimeout(() => {
    process.stdout.write(`${JSON.stringify(result())}\n`);
    closeAll();
    process.exit(0);
  }, Number(args.seconds) * 1000);
}
