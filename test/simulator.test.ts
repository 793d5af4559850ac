// Unit tests of the simulator's pure parts: seeded determinism, payloads against the telemetry
// contract (a validator written here from DESIGN.md, and the service's own decoder), invalid
// messages, options, latency percentiles, credentials, scenarios and exit codes.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeTelemetry } from '../src/ingest/decode.ts';
import type { DecodeLimits } from '../src/ingest/decode.ts';
import { BAD_KINDS, PAYLOAD_LIMIT_BYTES, createBadMessage } from '../simulator/badActors.ts';
import type { BadKind } from '../simulator/badActors.ts';
import { runSimulate } from '../simulator/cli.ts';
import { credentialsFromPatterns, parseCredentialsCsv } from '../simulator/credentials.ts';
import { EXIT_CODES } from '../simulator/exitCodes.ts';
import type { FleetResult } from '../simulator/fleet.ts';
import { deviceIdOf, profileOf, stormDevices } from '../simulator/fleet.ts';
import { AckLedger } from '../simulator/ledger.ts';
import type { MessageSourceOptions, OutgoingMessage } from '../simulator/messages.ts';
import { DeviceClock, PAYLOAD_FORMATS, createMessageSource } from '../simulator/messages.ts';
import { OPTION_NAMES } from '../simulator/optionSpecs.ts';
import type { SimulateOptions } from '../simulator/options.ts';
import { parseSimulateArgs } from '../simulator/options.ts';
import { PROFILE_NAMES, PROFILES } from '../simulator/profiles.ts';
import type { ProfileName } from '../simulator/profiles.ts';
import { deriveSeed, deviceRandom, mulberry32 } from '../simulator/prng.ts';
import { SCENARIO_NAMES, rateMultiplier } from '../simulator/scenarios.ts';
import { FleetStats, LatencyHistogram } from '../simulator/stats.ts';
import { buildSummary } from '../simulator/summary.ts';

// ---- the contract, as DESIGN.md states it -------------------------------------------------------
const ATTRIBUTE_NAME = /^[A-Za-z0-9_]{1,64}$/;
const RESERVED = new Set(['deviceId', 'ts', 'receivedAt', 'expiresAt']);
const FUTURE_LIMIT_MS = 5 * 60_000;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function validValue(value: unknown): boolean {
  if (value === null || ['number', 'string', 'boolean'].includes(typeof value)) {
    return typeof value !== 'number' || Number.isFinite(value);
  }
  if (Array.isArray(value)) return value.every(validValue);
  if (isObject(value)) return Object.values(value).every(validValue);
  return false;
}

/** Problems of one payload under the contract; empty when valid. */
function contractProblems(payload: string, nowMs: number): string[] {
  const problems: string[] = [];
  if (Buffer.byteLength(payload) > 128 * 1024) return ['payload larger than 128 KiB'];
  let doc: unknown;
  try {
    doc = JSON.parse(payload);
  } catch {
    return ['not JSON'];
  }
  const readings = Array.isArray(doc) ? doc : [doc];
  if (readings.length === 0 || readings.length > 500) problems.push(`${readings.length} readings`);
  for (const reading of readings) {
    if (!isObject(reading)) {
      problems.push('reading is not an object');
      continue;
    }
    const { ts } = reading;
    if (typeof ts !== 'number' || !Number.isInteger(ts)) problems.push(`ts ${String(ts)} is not epoch ms`);
    else if (ts > nowMs + FUTURE_LIMIT_MS) problems.push(`ts ${ts} is in the future`);
    const attributes = 'values' in reading ? reading.values : Object.fromEntries(Object.entries(reading).filter(([k]) => k !== 'ts'));
    if ('values' in reading && Object.keys(reading).some((k) => k !== 'ts' && k !== 'values')) problems.push('keys beside values');
    if (!isObject(attributes)) {
      problems.push('values is not an object');
      continue;
    }
    const names = Object.keys(attributes);
    if (names.length === 0 || names.length > 100) problems.push(`${names.length} attributes`);
    for (const name of names) {
      if (RESERVED.has(name)) problems.push(`reserved attribute ${name}`);
      if (!ATTRIBUTE_NAME.test(name)) problems.push(`illegal attribute name ${name}`);
      if (!validValue(attributes[name])) problems.push(`invalid value of ${name}`);
    }
  }
  return problems;
}

const SERVICE_LIMITS: DecodeLimits = {
  maxPayloadBytes: 128 * 1024,
  maxReadingsPerMessage: 500,
  maxAttributesPerReading: 100,
  maxDepth: 8,
  maxFutureSkewMs: FUTURE_LIMIT_MS,
  maxItemBytes: 400_000,
};

// ---- factories ----------------------------------------------------------------------------------
const NOW = Date.UTC(2024, 10, 24, 20, 26, 40, 123);

function sourceOptions(overrides: Partial<MessageSourceOptions> = {}): MessageSourceOptions {
  const profile: ProfileName = 'thermostat';
  return {
    seed: 42,
    deviceIndex: 1,
    deviceId: deviceIdOf('sim', profile, 1),
    profile: PROFILES[profile],
    format: 'flat',
    batch: 1,
    readingIntervalMs: 1000,
    badShare: 0,
    badKinds: [],
    ...overrides,
  };
}

/** Payloads with every ts replaced, so that runs at different times compare equal. */
function withoutTs(message: OutgoingMessage): unknown {
  if (message.kind !== 'telemetry') return { kind: message.kind, topic: message.topic };
  const strip = (reading: Record<string, unknown>): Record<string, unknown> => ({ ...reading, ts: 0 });
  const doc = JSON.parse(message.payload) as Record<string, unknown> | Record<string, unknown>[];
  return Array.isArray(doc) ? doc.map(strip) : strip(doc);
}

function messages(options: MessageSourceOptions, count: number, clock: (i: number) => number = (i) => NOW + i * 1000): OutgoingMessage[] {
  const source = createMessageSource(options);
  return Array.from({ length: count }, (_, i) => source.next(clock(i)));
}

function parse(argv: string[], env: NodeJS.ProcessEnv = {}): SimulateOptions {
  const result = parseSimulateArgs(argv, env, () => 1234);
  if (result.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result.options;
}

function errorsOf(argv: string[], env: NodeJS.ProcessEnv = {}): readonly string[] {
  const result = parseSimulateArgs(argv, env, () => 1234);
  if (result.kind !== 'error') throw new Error(`expected errors, got ${result.kind}`);
  return result.errors;
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

// ---- tests --------------------------------------------------------------------------------------
describe('seeded PRNG', () => {
  it('repeats a sequence for a seed and differs across seeds and streams', () => {
    const draw = (random: () => number): number[] => Array.from({ length: 5 }, random);
    expect(draw(mulberry32(7))).toEqual(draw(mulberry32(7)));
    expect(draw(mulberry32(7))).not.toEqual(draw(mulberry32(8)));
    expect(draw(deviceRandom(1, 1, 'data'))).not.toEqual(draw(deviceRandom(1, 2, 'data')));
    expect(draw(deviceRandom(1, 1, 'data'))).not.toEqual(draw(deviceRandom(1, 1, 'bad')));
    expect(deriveSeed(1, 2, 'x')).toBe(deriveSeed(1, 2, 'x'));
  });

  it('draws uniformly in [0, 1)', () => {
    const random = mulberry32(99);
    const draws = Array.from({ length: 20_000 }, random);
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    expect(mean).toBeGreaterThan(0.49);
    expect(mean).toBeLessThan(0.51);
  });
});

describe('payloads', () => {
  const cases = PROFILE_NAMES.flatMap((profile) => PAYLOAD_FORMATS.flatMap((format) => [1, 7].map((batch) => ({ profile, format, batch }))));

  it.each(cases)('$profile ($format, batch $batch) matches the contract and passes the service decoder', ({ profile, format, batch }) => {
    const options = sourceOptions({ profile: PROFILES[profile], format, batch, deviceId: deviceIdOf('sim', profile, 3), deviceIndex: 3 });
    for (const message of messages(options, 300)) {
      expect(message.kind).toBe('telemetry');
      expect(message.topic).toBe(`devices/sim-${profile}-3/telemetry`);
      expect(contractProblems(message.payload, NOW + 300_000)).toEqual([]);
      const decoded = decodeTelemetry(Buffer.from(message.payload), 'sim-x', NOW + 300_000, SERVICE_LIMITS);
      expect(decoded).toMatchObject({ ok: true });
      if (decoded.ok) expect(decoded.readings.map((r) => r.ts)).toEqual(message.readingTs);
      expect(message.readingTs).toHaveLength(batch);
    }
  });

  it('gives plausible values per profile', () => {
    const values = (profile: ProfileName): Record<string, unknown>[] =>
      messages(sourceOptions({ profile: PROFILES[profile] }), 2000).map((m) => JSON.parse(m.payload) as Record<string, unknown>);
    for (const r of values('thermostat')) {
      expect(r.temperature).toBeGreaterThan(5);
      expect(r.temperature).toBeLessThan(35);
      expect(r.humidity).toBeGreaterThanOrEqual(5);
      expect(r.humidity).toBeLessThanOrEqual(95);
      expect(r.battery).toBeGreaterThanOrEqual(0);
      expect(r.battery).toBeLessThanOrEqual(100);
    }
    for (const r of values('air-quality')) {
      expect(r.pm10).toBeGreaterThanOrEqual(r.pm2_5 as number);
      expect(r.co2).toBeGreaterThanOrEqual(380);
    }
    for (const r of values('vibration')) {
      expect(Math.abs(r.ax as number)).toBeLessThan(10);
      expect(r.rpm).toBeGreaterThan(500);
    }
    const gps = values('gps');
    for (const r of gps) {
      expect(Math.abs(r.lat as number)).toBeLessThanOrEqual(90);
      expect(r.speed).toBeGreaterThanOrEqual(0);
      expect(r.speed).toBeLessThanOrEqual(90);
      expect(r.fix).toMatchObject({ satellites: expect.any(Number), hdop: expect.any(Number), alt: expect.any(Number) });
    }
    // The tracker moves, but not teleports: 2000 readings x 5 s at <= 90 km/h is < 0.25 degrees.
    const first = gps[0] as { lat: number; lon: number };
    const last = gps[gps.length - 1] as { lat: number; lon: number };
    expect(Math.abs(first.lat - last.lat) + Math.abs(first.lon - last.lon)).toBeGreaterThan(0);
    expect(Math.abs(first.lat - last.lat)).toBeLessThan(2.5);
  });

  it('thermostat temperature follows a daily cycle on simulated time', () => {
    // 1440 readings = one simulated day: the day's range is larger than the noise between neighbours.
    const temps = messages(sourceOptions(), 1440).map((m) => (JSON.parse(m.payload) as { temperature: number }).temperature);
    const range = Math.max(...temps) - Math.min(...temps);
    const steps = temps.slice(1).map((t, i) => Math.abs(t - (temps[i] as number)));
    expect(range).toBeGreaterThan(1.5);
    expect(Math.max(...steps)).toBeLessThan(range);
  });
});

describe('seeded determinism', () => {
  it.each(PROFILE_NAMES)('%s: same seed and device => same payloads, whatever the clock', (profile) => {
    const options = sourceOptions({ profile: PROFILES[profile], batch: 3 });
    const a = messages(options, 200, (i) => NOW + i * 1000).map(withoutTs);
    const b = messages(options, 200, (i) => NOW + 5_000_000 + i * 37).map(withoutTs);
    expect(a).toEqual(b);
    expect(messages({ ...options, seed: 43 }, 200).map(withoutTs)).not.toEqual(a);
    expect(messages({ ...options, deviceIndex: 2 }, 200).map(withoutTs)).not.toEqual(a);
  });

  it('bad-actor messages are chosen and built deterministically', () => {
    const options = sourceOptions({ badShare: 0.3, badKinds: BAD_KINDS });
    const a = messages(options, 500);
    const b = messages(options, 500, (i) => NOW + 99_999 + i);
    expect(a.map(withoutTs)).toEqual(b.map(withoutTs));
    expect(a.map((m) => m.kind)).toEqual(b.map((m) => m.kind));
    const bad = a.filter((m) => m.kind !== 'telemetry').length;
    expect(bad).toBeGreaterThan(500 * 0.2);
    expect(bad).toBeLessThan(500 * 0.4);
    for (const kind of BAD_KINDS) expect(a.some((m) => m.kind === kind)).toBe(true);
  });
});

describe('timestamps', () => {
  it('are strictly increasing per device, even within one millisecond and one batch', () => {
    const clock = new DeviceClock();
    expect([clock.next(1000), clock.next(1000), clock.next(999), clock.next(1005.7)]).toEqual([1000, 1001, 1002, 1005]);
    const sent = messages(sourceOptions({ batch: 10, readingIntervalMs: 100 }), 50, () => NOW).flatMap((m) => m.readingTs);
    expect(sent).toHaveLength(500);
    expect(sent.every((ts, i) => i === 0 || ts > (sent[i - 1] as number))).toBe(true);
  });

  it('back-date the readings of a batch by the nominal interval', () => {
    const [message] = messages(sourceOptions({ batch: 4, readingIntervalMs: 250 }), 1);
    expect(message?.readingTs).toEqual([NOW - 750, NOW - 500, NOW - 250, NOW]);
  });

  it('a shortened last batch for --count', () => {
    const source = createMessageSource(sourceOptions({ batch: 10 }));
    expect(source.next(NOW, 3).readingTs).toHaveLength(3);
  });
});

describe('bad messages', () => {
  const expectedReason: Record<Exclude<BadKind, 'wrong-topic'>, readonly string[]> = {
    'bad-json': ['malformed_json'],
    'wrong-type': ['invalid_ts', 'invalid_attribute_name', 'reserved_attribute'],
    oversized: ['payload_too_large'],
  };

  it.each(BAD_KINDS)('%s is invalid under the contract, and for the service', (kind) => {
    const random = mulberry32(5);
    const attributes = { temperature: 21.5, humidity: 40 };
    for (let i = 0; i < 40; i += 1) {
      const bad = createBadMessage(kind, random, 'sim-thermostat-1', NOW, attributes);
      if (kind === 'wrong-topic') {
        expect(bad.topic).not.toMatch(/^devices\/[^/]+\/telemetry$/);
        expect(bad.forceQos0).toBe(true);
        expect(contractProblems(bad.payload, NOW)).toEqual([]);
        continue;
      }
      expect(bad.topic).toBe('devices/sim-thermostat-1/telemetry');
      expect(contractProblems(bad.payload, NOW)).not.toEqual([]);
      const decoded = decodeTelemetry(Buffer.from(bad.payload), 'sim-thermostat-1', NOW, SERVICE_LIMITS);
      expect(decoded.ok).toBe(false);
      if (!decoded.ok) expect(expectedReason[kind]).toContain(decoded.reason);
    }
  });

  it('oversized payloads exceed the 128 KiB limit', () => {
    const bad = createBadMessage('oversized', mulberry32(1), 'd', NOW, { t: 1 });
    expect(Buffer.byteLength(bad.payload)).toBeGreaterThan(PAYLOAD_LIMIT_BYTES);
  });
});

describe('options', () => {
  it('applies defaults', () => {
    const options = parse([]);
    expect(options).toMatchObject({
      url: 'mqtt://127.0.0.1:1883', devices: 10, profile: 'thermostat', prefix: 'sim', ratePerDevice: 1,
      durationMs: 60_000, qos: 1, inflight: 10, batch: 1, seed: 1234, scenario: { name: 'steady' },
      dynamodbEndpoint: 'http://127.0.0.1:4567', region: 'us-east-1', table: 'telemetry', verify: false,
    });
  });

  it('reads flags, short flags and env fallbacks (flags win)', () => {
    const env = { DYNAMODB_ENDPOINT: 'http://localhost:8000', AWS_REGION: 'eu-west-1', TABLE_NAME: 'tele', MQTT_URL: 'mqtt://env:1883' };
    const options = parse(['-n', '4', '--rate=0.5', '--table', 'mine', '--url', 'ws://broker:8080/mqtt', '--verify'], env);
    expect(options).toMatchObject({
      devices: 4, ratePerDevice: 0.5, table: 'mine', url: 'ws://broker:8080/mqtt', verify: true,
      dynamodbEndpoint: 'http://localhost:8000', region: 'eu-west-1',
    });
  });

  it('splits --total-rate over the devices and derives the run length from --count', () => {
    const options = parse(['--devices', '8', '--total-rate', '4', '--count', '10']);
    expect(options.ratePerDevice).toBe(0.5);
    expect(options.durationMs).toBeUndefined();
    expect(options.plannedDurationMs).toBe(20_000);
  });

  it('builds scenarios with defaults relative to the run', () => {
    expect(parse(['-d', '100', '--scenario', 'spike']).scenario).toEqual({ name: 'spike', atMs: 40_000, durationMs: 10_000, factor: 5 });
    expect(parse(['-d', '100', '--scenario', 'ramp', '--ramp-time', '30']).scenario).toEqual({ name: 'ramp', rampMs: 30_000 });
    expect(parse(['-d', '30', '--scenario', 'reconnect-storm', '--storm-share', '0.25']).scenario)
      .toEqual({ name: 'reconnect-storm', atMs: 10_000, share: 0.25, downtimeMs: 3000 });
    expect(parse(['--scenario', 'bad-actors', '--bad-kinds', 'bad-json, wrong-topic']).scenario)
      .toEqual({ name: 'bad-actors', share: 0.1, kinds: ['bad-json', 'wrong-topic'] });
  });

  it('reports every invalid option at once, each by name', () => {
    const errors = errorsOf([
      '--devices', '0', '--rate', 'fast', '--qos', '2', '--profile', 'toaster', '--url', 'http://x', '--bogus',
      '--batch', '501', '--bad-share', '0.5', '--verify=yes', 'stray',
    ]);
    const text = errors.join('\n');
    for (const name of ['--devices', '--rate', '--qos', '--profile', '--url', '--bogus', '--batch', '--bad-share', '--verify']) {
      expect(text).toContain(name);
    }
    expect(text).toContain('stray');
    expect(errors.length).toBeGreaterThanOrEqual(10);
  });

  it('rejects contradictions and rates that would break ts uniqueness', () => {
    expect(errorsOf(['--rate', '1', '--total-rate', '5'])).toEqual([expect.stringContaining('--total-rate')]);
    expect(errorsOf(['--password-pattern', 'x'])).toEqual([expect.stringContaining('--password-pattern')]);
    expect(errorsOf(['--rate', '1500'])).toEqual([expect.stringContaining('--rate')]);
    expect(errorsOf(['--rate', '300', '--scenario', 'spike', '--spike-factor', '4'])).toEqual([expect.stringContaining('at the spike')]);
    expect(errorsOf(['--reconnect-min', '5000', '--reconnect-max', '100'])).toEqual([expect.stringContaining('--reconnect-max')]);
    expect(errorsOf(['--rate'])).toEqual([expect.stringContaining('--rate: needs a value')]);
  });

  it('--help documents every option, scenario, profile and exit code', async () => {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await runSimulate(['--help'], { stdout, stderr, env: {}, isTTY: false });
    expect(code).toBe(0);
    for (const name of OPTION_NAMES) expect(stdout.text).toContain(`--${name}`);
    for (const name of [...SCENARIO_NAMES, ...PROFILE_NAMES, ...BAD_KINDS]) expect(stdout.text).toContain(name);
    for (const code of Object.values(EXIT_CODES)) expect(stdout.text).toMatch(new RegExp(`^  ${code} `, 'm'));
  });

  it('runSimulate exits 2 with the problems on stderr', async () => {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await runSimulate(['--devices', 'many', '--qos', '3'], { stdout, stderr, env: {}, isTTY: false });
    expect(code).toBe(EXIT_CODES.USAGE);
    expect(stderr.text).toContain('--devices');
    expect(stderr.text).toContain('--qos');
    expect(stdout.text).toBe('');
  });

  it('runSimulate exits 2 when the credentials file is missing', async () => {
    const stderr = new Capture();
    const code = await runSimulate(['--credentials-file', '/nonexistent/creds.csv'], { stdout: new Capture(), stderr, env: {}, isTTY: false });
    expect(code).toBe(EXIT_CODES.USAGE);
    expect(stderr.text).toContain('--credentials-file');
  });
});

describe('latency histogram', () => {
  it('estimates percentiles within a few percent', () => {
    const histogram = new LatencyHistogram();
    for (let ms = 1; ms <= 1000; ms += 1) histogram.record(ms);
    expect(histogram.count).toBe(1000);
    expect(histogram.quantile(0.5)).toBeGreaterThan(500 * 0.97);
    expect(histogram.quantile(0.5)).toBeLessThan(500 * 1.03);
    expect(histogram.quantile(0.99)).toBeGreaterThan(990 * 0.97);
    expect(histogram.quantile(0.99)).toBeLessThanOrEqual(1000);
    expect(histogram.max).toBe(1000);
    histogram.reset();
    expect(histogram.quantile(0.5)).toBeUndefined();
  });

  it('keeps tiny and huge values in range', () => {
    const histogram = new LatencyHistogram();
    histogram.record(0);
    histogram.record(10_000_000);
    expect(histogram.quantile(0.01)).toBeGreaterThanOrEqual(0);
    expect(histogram.quantile(1)).toBeLessThanOrEqual(10_000_000);
  });
});

describe('credentials', () => {
  it('expands patterns per device', () => {
    const lookup = credentialsFromPatterns('user-{id}', 'pw-{n}-{id}');
    expect(lookup('sim-gps-4', 4)).toEqual({ username: 'user-sim-gps-4', password: 'pw-4-sim-gps-4' });
    expect(credentialsFromPatterns()('x', 1)).toEqual({});
  });

  it('reads a CSV with optional header, quotes and comments, and reports bad lines', () => {
    const file = parseCredentialsCsv('deviceId,username,password\n# comment\nsim-a,alice,"pa,ss"\nsim-b,bob,\nbroken\n', 'creds.csv');
    expect(file.byDevice.get('sim-a')).toEqual({ username: 'alice', password: 'pa,ss' });
    expect(file.byDevice.get('sim-b')).toEqual({ username: 'bob' });
    expect(file.errors).toEqual(['creds.csv line 5: expected deviceId,username,password']);
  });
});

describe('fleet layout and scenarios', () => {
  it('names devices and spreads mixed profiles', () => {
    expect(deviceIdOf('sim', 'thermostat', 1)).toBe('sim-thermostat-1');
    expect([1, 2, 3, 4, 5].map((n) => profileOf('mixed', n))).toEqual(['thermostat', 'air-quality', 'vibration', 'gps', 'thermostat']);
    expect(profileOf('gps', 3)).toBe('gps');
  });

  it('drops an exact, seeded share of devices in a storm', () => {
    const chosen = stormDevices(9, 40, 0.25);
    expect(chosen.size).toBe(10);
    expect([...chosen]).toEqual([...stormDevices(9, 40, 0.25)]);
  });

  it('shapes the rate over time', () => {
    const ramp = { name: 'ramp', rampMs: 10_000 } as const;
    expect([0, 5000, 10_000, 20_000].map((t) => rateMultiplier(ramp, t))).toEqual([0, 0.5, 1, 1]);
    const spike = { name: 'spike', atMs: 1000, durationMs: 500, factor: 4 } as const;
    expect([999, 1000, 1499, 1500].map((t) => rateMultiplier(spike, t))).toEqual([1, 4, 4, 1]);
    expect(rateMultiplier({ name: 'steady' }, 123)).toBe(1);
  });
});

describe('summary and exit codes', () => {
  const run = (overrides: Partial<FleetResult> = {}): FleetResult => {
    const stats = new FleetStats();
    stats.readingsSent = 100;
    stats.readingsAcked = 100;
    return { outcome: 'completed', stats, ledger: new AckLedger(), elapsedMs: 10_000, deviceIds: [], ...overrides };
  };
  const verified = (missing: number): { result: { devices: number; acked: number; stored: number; missing: number; unexpected: number; missingSamples: []; queries: number; durationMs: number } } =>
    ({ result: { devices: 1, acked: 100, stored: 100 - missing, missing, unexpected: 0, missingSamples: [], queries: 1, durationMs: 5 } });

  it('is 0 when all is well, and reports the achieved rate', () => {
    const summary = buildSummary(parse(['--min-rate', '5']), run(), verified(0));
    expect(summary.exitCode).toBe(EXIT_CODES.OK);
    expect(summary.achievedRate).toBe(10);
    expect(summary.verify).toMatchObject({ ok: true, missing: 0 });
  });

  it('orders failures: connection, missing, verify error, rate', () => {
    expect(buildSummary(parse(['--min-rate', '50']), run(), verified(0)).exitCode).toBe(EXIT_CODES.BELOW_MIN_RATE);
    expect(buildSummary(parse(['--min-rate', '50']), run(), verified(2)).exitCode).toBe(EXIT_CODES.MISSING_READINGS);
    expect(buildSummary(parse(['--min-rate', '50']), run(), { error: 'no table' }).exitCode).toBe(EXIT_CODES.VERIFY_FAILED);
    expect(buildSummary(parse([]), run({ outcome: 'connection-failed' }), undefined).exitCode).toBe(EXIT_CODES.CONNECTION_FAILED);
  });

  it('QoS 0 losses are reported by verify but do not fail the run', () => {
    const summary = buildSummary(parse(['--qos', '0']), run(), verified(3));
    expect(summary.exitCode).toBe(EXIT_CODES.OK);
    expect(summary.verify).toMatchObject({ missing: 3, ok: true });
  });

  it('the ledger keeps distinct ts and their range per device', () => {
    const ledger = new AckLedger();
    ledger.add('a', [5, 3, 9]);
    ledger.add('a', [3]);
    ledger.add('b', []);
    expect(ledger.size).toBe(3);
    const [[id, acks] = ['', undefined]] = [...ledger.entries()];
    expect(id).toBe('a');
    expect(acks).toMatchObject({ minTs: 3, maxTs: 9 });
  });
});
