// The reconnect-storm benchmark of device authentication (`npm run bench -- --auth-storm`): N devices
// CONNECT at once to a service with --auth none and then to one with --auth password (devices
// provisioned in the registry with the default scrypt cost), twice each: a cold storm (empty caches:
// every password device costs one registry read, batched, and one scrypt run) and, after every
// device disconnected, a reconnect storm (the verified-secret cache answers; records older than the
// cache TTL are read again in batches, no scrypt). For each phase it reports the duration and the
// CPU-seconds of the service (and of its embedded DynamoDB), and the registry reads and scrypt runs
// the service counted. One JSON line per phase on stdout, a table on stderr.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDynamoClients } from '../src/storage/client.ts';
import { importDevices } from '../src/identity/bulk-import.ts';
import { DeviceRegistry } from '../src/identity/registry.ts';
import { installCleanup, spawnCli } from './children.ts';
import type { Child } from './children.ts';
import { sampleCpu } from './procfs.ts';
import { metricSum } from './scenarios.ts';
import { encodeConnect } from './mqtt-wire.ts';

/** The keepalive every storm connection announces; PINGREQs keep long storms inside it. */
const KEEPALIVE_S = 60;

export interface StormOptions {
  readonly devices: number;
  /** CONNECTs in flight at once (a real storm is bounded by the listen backlog too). */
  readonly concurrency: number;
  readonly progress: (text: string) => void;
}

export interface StormPhase {
  readonly kind: 'auth_storm';
  readonly auth: 'none' | 'password';
  readonly phase: 'cold' | 'reconnect';
  readonly devices: number;
  readonly accepted: number;
  readonly refused: number;
  /** Refusals by CONNACK return code ("closed": the connection ended without a CONNACK, e.g. a full listen backlog). */
  readonly refused_by: Record<string, number>;
  readonly duration_s: number;
  readonly connects_per_s: number;
  readonly server_cpu_s: number;
  readonly total_cpu_s: number;
  readonly server_cpu_ms_per_connect: number;
  readonly registry_requests: number;
  readonly hash_checks: number;
}

const PINGREQ = Buffer.from([0xc0, 0x00]);

/** Opens one connection and resolves with the CONNACK return code (-1: closed without one). */
function connectOne(port: number, packet: Buffer, sockets: Socket[]): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let done = false;
    const finish = (rc: number): void => {
      if (done) return;
      done = true;
      resolve(rc);
    };
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 4 && buf[0] === 0x20) finish(buf[3] as number);
    });
    socket.on('error', () => finish(-1));
    socket.on('close', () => finish(-1));
    socket.once('connect', () => socket.write(packet));
    sockets.push(socket);
  });
}

async function storm(port: number, packets: readonly Buffer[], concurrency: number, sockets: Socket[]): Promise<{ accepted: number; refused: number; refusedBy: Record<string, number> }> {
  let next = 0;
  let accepted = 0;
  let refused = 0;
  const refusedBy: Record<string, number> = {};
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < packets.length) {
        const rc = await connectOne(port, packets[next++] as Buffer, sockets);
        if (rc === 0) accepted++;
        else {
          refused++;
          const key = rc < 0 ? 'closed' : String(rc);
          refusedBy[key] = (refusedBy[key] ?? 0) + 1;
        }
      }
    }),
  );
  return { accepted, refused, refusedBy };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function startService(auth: 'none' | 'password', dataDir: string, embeddedPort: number): Promise<{ child: Child; mqttPort: number; metricsUrl: string }> {
  let ready: ((p: { mqttPort: number; httpPort: number }) => void) | undefined;
  const readyLine = new Promise<{ mqttPort: number; httpPort: number }>((resolve) => (ready = resolve));
  let buffered = '';
  const child = spawnCli(`storm-${auth}`, [
    'serve', '--mqtt-host', '127.0.0.1', '--mqtt-port', '0', '--http-host', '127.0.0.1', '--http-port', '0', '--log-level', 'info',
    '--auth', auth, '--data-dir', dataDir, '--embedded-port', String(embeddedPort), '--auth-failures-before-lockout', '1000000',
    // Every device of the storm comes from 127.0.0.1: the per-address limits would measure themselves.
    '--max-connections-per-ip', '1000000', '--max-connects-per-ip-per-second', '1000000', '--max-connections', '1000000',
  ], (text) => {
    buffered += text;
    for (const line of buffered.split('\n')) if (line.includes('"iot-ingest ready"')) ready?.(JSON.parse(line) as { mqttPort: number; httpPort: number });
    buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
  });
  const ports = await Promise.race([readyLine, sleep(120_000).then(() => Promise.reject(new Error(`storm-${auth}: not ready in 120 s\n${child.output()}`)))]);
  return { child, mqttPort: ports.mqttPort, metricsUrl: `http://127.0.0.1:${ports.httpPort}/metrics` };
}

async function scrape(url: string, name: string): Promise<number> {
  return metricSum(await (await fetch(url)).text(), name) ?? 0;
}

async function waitConnected(url: string, want: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await scrape(url, 'iot_ingest_connected_clients')) !== want) {
    if (Date.now() > deadline) throw new Error(`connected clients did not reach ${want} in 60 s`);
    await sleep(200);
  }
}

export async function runAuthStorm(opts: StormOptions): Promise<StormPhase[]> {
  const ids = Array.from({ length: opts.devices }, (_, i) => `storm-${String(i).padStart(6, '0')}`);
  const results: StormPhase[] = [];
  for (const auth of ['none', 'password'] as const) {
    const dataDir = mkdtempSync(join(tmpdir(), `iot-ingest-storm-${auth}-`));
    const embeddedPort = await freePort();
    const svc = await startService(auth, dataDir, embeddedPort);
    try {
      let packets = ids.map((id) => encodeConnect(id, KEEPALIVE_S));
      if (auth === 'password') {
        opts.progress(`provisioning ${ids.length} devices (default scrypt cost)`);
        const clients = createDynamoClients({ endpoint: `http://127.0.0.1:${embeddedPort}`, region: 'us-east-1' });
        const secrets = new Map<string, string>();
        const registry = new DeviceRegistry(clients.doc, 'devices');
        await importDevices(clients.doc, registry, ids.map((deviceId) => ({ deviceId, attributes: {} })), { onStored: (creds) => void creds.forEach((c) => secrets.set(c.deviceId, c.secret)) });
        clients.destroy();
        packets = ids.map((id) => encodeConnect(id, KEEPALIVE_S, { username: id, password: secrets.get(id) }));
      }
      for (const phase of ['cold', 'reconnect'] as const) {
        const sockets: Socket[] = [];
        // A storm can outlast the keepalive (60 s): keep every open connection alive meanwhile.
        const pinger = setInterval(() => {
          for (const s of sockets) if (!s.destroyed && s.writable) s.write(PINGREQ);
        }, 20_000);
        pinger.unref();
        const before = { cpu: sampleCpu(svc.child.pid, []), reads: await scrape(svc.metricsUrl, 'iot_ingest_auth_registry_requests_total'), hashes: await scrape(svc.metricsUrl, 'iot_ingest_auth_hash_checks_total') };
        opts.progress(`auth ${auth}, ${phase} storm: ${ids.length} CONNECTs, ${opts.concurrency} in flight`);
        const t0 = performance.now();
        const { accepted, refused, refusedBy } = await storm(svc.mqttPort, packets, opts.concurrency, sockets);
        const seconds = (performance.now() - t0) / 1000;
        const cpu = sampleCpu(svc.child.pid, []);
        const reads = await scrape(svc.metricsUrl, 'iot_ingest_auth_registry_requests_total');
        const hashes = await scrape(svc.metricsUrl, 'iot_ingest_auth_hash_checks_total');
        const serverCpu = cpu.serverS - before.cpu.serverS;
        results.push({
          kind: 'auth_storm', auth, phase, devices: ids.length, accepted, refused, refused_by: refusedBy,
          duration_s: round(seconds), connects_per_s: Math.round(accepted / seconds),
          server_cpu_s: round(serverCpu), total_cpu_s: round(cpu.totalS - before.cpu.totalS),
          server_cpu_ms_per_connect: round((serverCpu * 1000) / Math.max(1, accepted)),
          registry_requests: reads - before.reads, hash_checks: hashes - before.hashes,
        });
        process.stdout.write(`${JSON.stringify(results.at(-1))}\n`);
        await waitConnected(svc.metricsUrl, accepted);
        for (const s of sockets) s.end(Buffer.from([0xe0, 0x00]));
        await waitConnected(svc.metricsUrl, 0);
        clearInterval(pinger);
        for (const s of sockets) s.destroy();
      }
    } finally {
      await svc.child.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  return results;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export function formatStormTable(rows: readonly StormPhase[]): string {
  const head = ['auth', 'phase', 'devices', 'accepted', 'seconds', 'connects/s', 'server CPU-s', 'total CPU-s', 'CPU ms/connect', 'registry reads', 'scrypt runs'];
  const body = rows.map((r) => [r.auth, r.phase, r.devices, r.accepted, r.duration_s, r.connects_per_s, r.server_cpu_s, r.total_cpu_s, r.server_cpu_ms_per_connect, r.registry_requests, r.hash_checks].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  return [head, ...body].map((cells) => cells.map((c, i) => c.padStart(widths[i] as number)).join('  ')).join('\n');
}

/** `npm run bench -- --auth-storm [--storm-devices N] [--storm-concurrency C]`: only this benchmark. */
export async function runAuthStormCli(argv: readonly string[]): Promise<number> {
  const value = (flag: string, fallback: number): number => {
    const i = argv.indexOf(flag);
    const n = i < 0 ? fallback : Number(argv[i + 1]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer`);
    return n;
  };
  installCleanup();
  const started = performance.now();
  const rows = await runAuthStorm({
    devices: value('--storm-devices', 5000),
    concurrency: value('--storm-concurrency', 256),
    progress: (text) => process.stderr.write(`[bench ${Math.round((performance.now() - started) / 1000)} s] auth-storm: ${text}\n`),
  });
  process.stderr.write(`\n${formatStormTable(rows)}\n`);
  return rows.every((r) => r.refused === 0) ? 0 : 1;
}
