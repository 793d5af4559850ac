// The simulator's fleet over real sockets against a plain aedes broker (no service, no DynamoDB):
// connections, pacing, QoS 1 acks, batches, seeded payloads, reconnect storms and jitter, bad
// actors, credentials, TLS, and exit codes. The broker records what it received.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes } from 'aedes';
import type { Client } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeTelemetry } from '../src/ingest/decode.ts';
import { runSimulate } from '../simulator/cli.ts';
import { EXIT_CODES } from '../simulator/exitCodes.ts';
import { findFreePort } from './helpers/dynamo-servers.ts';
import type { Summary } from '../simulator/summary.ts';

const TELEMETRY = /^devices\/([^/]+)\/telemetry$/;
const LIMITS = {
  maxPayloadBytes: 128 * 1024, maxReadingsPerMessage: 500, maxAttributesPerReading: 100,
  maxDepth: 8, maxFutureSkewMs: 300_000, maxItemBytes: 400_000,
};

interface BrokerOptions {
  /** Refuse publishes to other topics with an error (aedes closes the connection), like the service. */
  readonly rejectForeignTopics?: boolean;
  readonly holdMs?: number;
  readonly authenticate?: (clientId: string, username: string | undefined, password: string | undefined) => boolean;
  readonly tls?: { readonly key: string; readonly cert: string };
}

interface TestBroker {
  readonly url: string;
  readonly aedes: Aedes;
  /** Payloads per device in arrival order (telemetry topics only). */
  readonly received: Map<string, string[]>;
  readonly connectTimes: Map<string, number[]>;
  /** performance.now() of every telemetry publish received. */
  readonly arrivals: number[];
  readonly counts: { forbidden: number; invalid: number; valid: number };
  close(): Promise<void>;
}

const brokers: TestBroker[] = [];

async function startBroker(options: BrokerOptions = {}): Promise<TestBroker> {
  const received = new Map<string, string[]>();
  const connectTimes = new Map<string, number[]>();
  const counts = { forbidden: 0, invalid: 0, valid: 0 };
  const arrivals: number[] = [];
  const aedes = await Aedes.createBroker({
    authorizePublish: (_client: Client | null, packet, callback) => {
      const match = TELEMETRY.exec(packet.topic);
      if (match?.[1] === undefined) {
        counts.forbidden += 1;
        callback(options.rejectForeignTopics ? new Error('forbidden topic') : null);
        return;
      }
      arrivals.push(performance.now());
      const payload = packet.payload.toString();
      const list = received.get(match[1]) ?? [];
      list.push(payload);
      received.set(match[1], list);
      const decoded = decodeTelemetry(Buffer.from(packet.payload), match[1], Date.now(), LIMITS);
      if (decoded.ok) counts.valid += 1;
      else counts.invalid += 1;
      setTimeout(() => callback(null), options.holdMs ?? 1);
    },
    ...(options.authenticate === undefined ? {} : {
      authenticate: (client: Client, username: string | undefined, password: Buffer | undefined, done: (e: null, ok: boolean) => void) => {
        done(null, options.authenticate?.(client.id, username, password?.toString()) ?? false);
      },
    }),
  });
  aedes.on('client', (client) => {
    const times = connectTimes.get(client.id) ?? [];
    times.push(performance.now());
    connectTimes.set(client.id, times);
  });
  const server: Server = options.tls ? createTlsServer(options.tls, aedes.handle) : createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const broker: TestBroker = {
    url: `${options.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    aedes,
    received,
    connectTimes,
    arrivals,
    counts,
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  brokers.push(broker);
  return broker;
}

afterEach(async () => {
  await Promise.all(brokers.splice(0).map((broker) => broker.close()));
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

interface Run {
  readonly code: number;
  readonly summary: Summary;
  readonly stderr: string;
}

async function simulate(args: string[], io: { isTTY?: boolean; signal?: AbortSignal } = {}): Promise<Run> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runSimulate([...args, '--json'], {
    stdout, stderr, env: {}, isTTY: io.isTTY ?? false, ...(io.signal ? { signal: io.signal } : {}),
  });
  return { code, summary: JSON.parse(stdout.text) as Summary, stderr: stderr.text };
}

function readingsOf(payload: string): Array<Record<string, unknown>> {
  const doc = JSON.parse(payload) as Record<string, unknown> | Array<Record<string, unknown>>;
  return Array.isArray(doc) ? doc : [doc];
}

function withoutTs(received: Map<string, string[]>): Record<string, unknown> {
  return Object.fromEntries([...received].map(([id, payloads]) => [id, payloads.map((p) => readingsOf(p).map((r) => ({ ...r, ts: 0 })))]));
}


describe('simulator fleet against aedes', () => {
  it('runs --count readings per device, QoS 1, batched, all acknowledged, unique ts per device', async () => {
    const broker = await startBroker();
    const run = await simulate(['--url', broker.url, '-n', '6', '-r', '100', '-c', '40', '-b', '4', '--seed', '11', '--quiet']);
    expect(run.code).toBe(EXIT_CODES.OK);
    expect(run.summary).toMatchObject({
      outcome: 'completed',
      sent: { messages: 60, readings: 240 },
      acked: { messages: 60, readings: 240 },
      errors: 0,
      unacked: 0,
      connections: { connects: 6, failures: 0 },
    });
    expect(run.summary.latencyMs.p50).toBeGreaterThan(0);
    expect([...broker.received.keys()].sort()).toEqual([1, 2, 3, 4, 5, 6].map((n) => `sim-thermostat-${n}`).sort());
    for (const payloads of broker.received.values()) {
      expect(payloads).toHaveLength(10);
      const ts = payloads.flatMap((p) => readingsOf(p).map((r) => r.ts as number));
      expect(ts.every((t, i) => i === 0 || t > (ts[i - 1] as number))).toBe(true);
      expect(ts.every((t) => t <= Date.now())).toBe(true);
    }
  });

  it('the same seed produces the same payloads; another seed does not', async () => {
    const args = (url: string, seed: string): string[] => ['--url', url, '-n', '4', '-p', 'mixed', '-r', '200', '-c', '30', '--seed', seed, '--quiet'];
    const first = await startBroker();
    const second = await startBroker();
    const third = await startBroker();
    expect((await simulate(args(first.url, '5'))).code).toBe(0);
    expect((await simulate(args(second.url, '5'))).code).toBe(0);
    expect((await simulate(args(third.url, '6'))).code).toBe(0);
    expect(Object.keys(withoutTs(first.received)).sort()).toEqual(['sim-air-quality-2', 'sim-gps-4', 'sim-thermostat-1', 'sim-vibration-3']);
    expect(withoutTs(second.received)).toEqual(withoutTs(first.received));
    expect(withoutTs(third.received)).not.toEqual(withoutTs(first.received));
  });

  it('paces by --rate and --duration, and prints plain progress lines when not a TTY', async () => {
    const broker = await startBroker();
    const run = await simulate(['--url', broker.url, '-n', '5', '-r', '20', '-d', '2', '--progress-interval', '0.5', '--qos', '0']);
    expect(run.code).toBe(0);
    // 5 devices x 20/s x 2 s = 200, minus the connect ramp; QoS 0 has no acks.
    expect(run.summary.sent.readings).toBeGreaterThan(150);
    expect(run.summary.sent.readings).toBeLessThanOrEqual(205);
    expect(run.summary.acked.readings).toBe(0);
    expect(run.stderr).toMatch(/^\[\s*\d+\.\ds\] connected 5\/5 sent [\d.,]+\/s/m);
    expect(run.stderr).not.toContain('\x1b[');
  });

  it('redraws one status block on a TTY', async () => {
    const broker = await startBroker();
    const run = await simulate(['--url', broker.url, '-n', '2', '-r', '10', '-d', '1.2'], { isTTY: true });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('\x1b[5A\x1b[0J');
    expect(run.stderr).toContain('PUBACK    p50');
  });

  it('ramp grows the rate linearly; spike multiplies it for its duration', async () => {
    const perSecond = (arrivals: readonly number[], start: number): number[] => {
      const buckets = [0, 0, 0];
      for (const t of arrivals) {
        const i = Math.floor((t - start) / 1000);
        if (i < 3) buckets[i] = (buckets[i] ?? 0) + 1;
      }
      return buckets;
    };
    const ramp = await startBroker();
    const rampStart = performance.now();
    expect((await simulate(['--url', ramp.url, '-n', '10', '-r', '50', '-d', '2', '--scenario', 'ramp', '--ramp-time', '2', '--quiet'])).code).toBe(0);
    const [rampFirst = 0, rampSecond = 0] = perSecond(ramp.arrivals, rampStart);
    // Integral of the ramp: 1/4 of the full rate in the first second, 3/4 in the second.
    expect(rampSecond).toBeGreaterThan(2 * rampFirst);

    const spike = await startBroker();
    const spikeStart = performance.now();
    const run = await simulate(['--url', spike.url, '-n', '5', '-r', '20', '-d', '3', '--scenario', 'spike',
      '--spike-at', '1', '--spike-duration', '1', '--spike-factor', '4', '--quiet']);
    expect(run.code).toBe(0);
    const [before = 0, during = 0, after = 0] = perSecond(spike.arrivals, spikeStart);
    expect(during).toBeGreaterThan(2.5 * before);
    expect(during).toBeGreaterThan(2.5 * after);
  });

  it('exits 5 when no device can connect', async () => {
    const port = await findFreePort();
    const run = await simulate(['--url', `mqtt://127.0.0.1:${port}`, '-n', '3', '-d', '5', '--quiet']);
    expect(run.code).toBe(EXIT_CODES.CONNECTION_FAILED);
    expect(run.summary.outcome).toBe('connection-failed');
    expect(run.summary.lastError).toContain('ECONNREFUSED');
  });

  it('exits 4 when --min-rate is not reached', async () => {
    const broker = await startBroker();
    const run = await simulate(['--url', broker.url, '-n', '2', '-r', '5', '-c', '3', '--min-rate', '1000', '--quiet']);
    expect(run.code).toBe(EXIT_CODES.BELOW_MIN_RATE);
    expect(run.summary.problems.join()).toContain('--min-rate');
  });

  it('reconnect-storm: a share drops, all come back, unacknowledged messages are resent', async () => {
    const broker = await startBroker({ holdMs: 20 });
    const run = await simulate([
      '--url', broker.url, '-n', '10', '-r', '50', '-d', '2.5', '--scenario', 'reconnect-storm',
      '--storm-at', '1', '--storm-share', '0.5', '--storm-downtime', '0.5', '--seed', '3', '--quiet',
    ]);
    expect(run.code).toBe(0);
    expect(run.summary.connections).toMatchObject({ connects: 15, disconnects: 5 });
    expect(run.summary).toMatchObject({ errors: 0, unacked: 0 });
    expect(run.summary.acked.readings).toBe(run.summary.sent.readings);
    // Every reading sent was received at least once (resends may repeat some).
    const distinct = new Set([...broker.received].flatMap(([id, payloads]) => payloads.flatMap((p) => readingsOf(p).map((r) => `${id}@${String(r.ts)}`))));
    expect(distinct.size).toBe(run.summary.sent.readings);
    // The dropped devices came back together (the storm), 0.5 s after the drop.
    const reconnects = [...broker.connectTimes.values()].filter((times) => times.length === 2).map((times) => times[1] as number);
    expect(reconnects).toHaveLength(5);
    expect(Math.max(...reconnects) - Math.min(...reconnects)).toBeLessThan(300);
  });

  it('reconnects after an unexpected disconnect with jitter, not in a herd', async () => {
    const broker = await startBroker();
    const controller = new AbortController();
    const running = simulate(['--url', broker.url, '-n', '20', '-r', '5', '-d', '10', '--reconnect-min', '2000', '--quiet'], { signal: controller.signal });
    const waitUntil = async (condition: () => boolean): Promise<void> => {
      for (let i = 0; i < 200 && !condition(); i += 1) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(condition()).toBe(true);
    };
    await waitUntil(() => broker.connectTimes.size === 20);
    // The broker drops every connection at once.
    const clients = (broker.aedes as unknown as { clients: Record<string, Client> }).clients;
    for (const client of Object.values(clients)) client.conn.destroy();
    await waitUntil(() => [...broker.connectTimes.values()].every((times) => times.length >= 2));
    controller.abort();
    const run = await running;
    // Stopped before its end: the summary is printed, the exit code says the run did not complete.
    expect(run.code).toBe(130);
    const again = [...broker.connectTimes.values()].map((times) => times[1] as number);
    // Full jitter over 0..2000 ms: 20 devices spread over more than a second, not one instant.
    expect(Math.max(...again) - Math.min(...again)).toBeGreaterThan(600);
  });

  it('bad-actors: the broker sees exactly the simulator\'s count of each bad kind', async () => {
    const broker = await startBroker({ rejectForeignTopics: true });
    const run = await simulate([
      '--url', broker.url, '-n', '8', '-r', '20', '-d', '3', '--scenario', 'bad-actors', '--bad-share', '0.2',
      '--reconnect-min', '100', '--seed', '21', '--quiet',
    ]);
    expect(run.code).toBe(0);
    const { byKind, total, acked } = run.summary.bad;
    expect(total).toBeGreaterThan(20);
    for (const kind of ['bad-json', 'wrong-type', 'oversized', 'wrong-topic'] as const) expect(byKind[kind]).toBeGreaterThan(0);
    expect(broker.counts.forbidden).toBe(byKind['wrong-topic']);
    expect(broker.counts.invalid).toBe(byKind['bad-json'] + byKind['wrong-type'] + byKind.oversized);
    expect(acked).toBe(broker.counts.invalid);
    expect(run.summary.connections.disconnects).toBe(byKind['wrong-topic']);
    expect(run.summary.acked.readings).toBe(run.summary.sent.readings);
    expect(broker.counts.valid).toBeGreaterThanOrEqual(run.summary.sent.messages);
  });

  it('sends credentials from patterns and from a CSV file', async () => {
    const broker = await startBroker({
      authenticate: (id, username, password) => username === `user-${id}` && password === `pw-${id.split('-').pop() ?? ''}`,
    });
    const run = await simulate(['--url', broker.url, '-n', '3', '-c', '2', '-r', '50', '--username-pattern', 'user-{id}', '--password-pattern', 'pw-{n}', '--quiet']);
    expect(run.summary).toMatchObject({ outcome: 'completed', acked: { readings: 6 } });

    const dir = mkdtempSync(join(tmpdir(), 'sim-creds-'));
    try {
      const file = join(dir, 'creds.csv');
      writeFileSync(file, 'deviceId,username,password\nsim-thermostat-1,user-sim-thermostat-1,pw-1\nsim-thermostat-2,user-sim-thermostat-2,pw-2\n');
      const fromFile = await simulate(['--url', broker.url, '-n', '2', '-c', '2', '-r', '50', '--credentials-file', file, '--quiet']);
      expect(fromFile.summary).toMatchObject({ outcome: 'completed', acked: { readings: 4 } });
      const wrong = await simulate(['--url', broker.url, '-n', '2', '-d', '3', '--username-pattern', 'nobody', '--quiet']);
      expect(wrong.code).toBe(EXIT_CODES.CONNECTION_FAILED);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('connects over mqtts:// with --ca, or --insecure, and fails without either', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-tls-'));
    try {
      const key = join(dir, 'key.pem');
      const cert = join(dir, 'cert.pem');
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
        '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      ], { stdio: 'ignore' });
      const broker = await startBroker({ tls: { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') } });
      const base = ['--url', broker.url, '-n', '2', '-c', '3', '-r', '50', '--quiet'];
      expect((await simulate([...base, '--ca', cert])).summary).toMatchObject({ outcome: 'completed', acked: { readings: 6 } });
      expect((await simulate([...base, '--insecure'])).summary).toMatchObject({ outcome: 'completed', acked: { readings: 6 } });
      const untrusted = await simulate(['--url', broker.url, '-n', '2', '-d', '3', '--quiet']);
      expect(untrusted.code).toBe(EXIT_CODES.CONNECTION_FAILED);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an abort ends the run early and still prints the summary', async () => {
    const broker = await startBroker();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 500);
    const started = performance.now();
    const run = await simulate(['--url', broker.url, '-n', '3', '-r', '10', '-d', '60', '--quiet'], { signal: controller.signal });
    expect(performance.now() - started).toBeLessThan(5000);
    expect(run.summary.outcome).toBe('aborted');
    expect(run.summary.sent.readings).toBeGreaterThan(0);
  });
});
