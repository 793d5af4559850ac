// Command line and environment -> validated SimulateOptions. The shared parser of every iot-ingest
// command (src/cli/options.ts) reads the flags (driven by OPTION_SPECS), one zod schema checks them
// and applies defaults, and every problem is reported at once, each naming its option.
import { z } from 'zod';
import { parseFlags } from '../src/cli/options.ts';
import { describeIssue } from '../src/config/issues.ts';
import { parseDurationSeconds } from './duration.ts';
import type { BadKind } from './badActors.ts';
import { BAD_KINDS } from './badActors.ts';
import type { PayloadFormat } from './messages.ts';
import { PAYLOAD_FORMATS } from './messages.ts';
import type { OptionName } from './optionSpecs.ts';
import { simulatorOptions } from './optionSpecs.ts';
import type { ProfileName } from './profiles.ts';
import { PROFILE_NAMES } from './profiles.ts';
import type { Scenario } from './scenarios.ts';
import { SCENARIO_NAMES, peakMultiplier } from './scenarios.ts';

/** ts has millisecond resolution and (deviceId, ts) is unique: above this a device's ts would run ahead of its clock. */
export const MAX_READINGS_PER_SECOND_PER_DEVICE = 1000;
/** The service's default limit of readings per message. */
export const MAX_BATCH = 500;

export interface SimulateOptions {
  readonly url: string;
  readonly devices: number;
  readonly profile: ProfileName | 'mixed';
  readonly prefix: string;
  readonly connectRatePerSecond: number;
  readonly connectTimeoutMs: number;
  readonly keepaliveSeconds: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** Readings per second per device (from --rate, or --total-rate / --devices). */
  readonly ratePerDevice: number;
  readonly durationMs: number | undefined;
  /** Readings per device. */
  readonly count: number | undefined;
  /** Run length the scenario's defaults are computed from: --duration, else --count / rate. */
  readonly plannedDurationMs: number;
  readonly qos: 0 | 1;
  readonly inflight: number;
  readonly batch: number;
  readonly format: PayloadFormat;
  readonly seed: number;
  readonly drainTimeoutMs: number;
  readonly scenario: Scenario;
  readonly usernamePattern: string | undefined;
  readonly passwordPattern: string | undefined;
  readonly credentialsFile: string | undefined;
  readonly caFile: string | undefined;
  readonly insecure: boolean;
  readonly verify: boolean;
  readonly dynamodbEndpoint: string;
  readonly region: string;
  readonly table: string;
  readonly verifyConcurrency: number;
  readonly minRate: number | undefined;
  readonly json: boolean;
  readonly progressIntervalMs: number;
  readonly quiet: boolean;
  readonly logLevel: string | undefined;
}

export type ParseResult =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'ok'; readonly options: SimulateOptions }
  | { readonly kind: 'error'; readonly errors: readonly string[] };

const number = (check: (n: z.ZodNumber) => z.ZodNumber = (n) => n) =>
  z.string().transform((text, ctx) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value)) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a number` });
      return z.NEVER;
    }
    return value;
  }).pipe(check(z.number()));
/** Seconds: plain ("90", "0.5") or with a unit ("500ms", "30s", "10m", "1h"). */
const duration = (check: (n: z.ZodNumber) => z.ZodNumber = (n) => n) =>
  z.string().transform((text, ctx) => {
    const value = parseDurationSeconds(text);
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (seconds, or with a unit: 500ms, 30s, 10m, 1h)` });
      return z.NEVER;
    }
    return value;
  }).pipe(check(z.number()));
const positive = number((n) => n.positive());
const positiveSeconds = duration((n) => n.positive());
const seconds = duration((n) => n.min(0));
const positiveInt = (max = Number.MAX_SAFE_INTEGER) => number((n) => n.int().min(1).max(max));
const share = number((n) => n.min(0).max(1));
const oneOf = <T extends string>(names: readonly T[]) =>
  z.string().refine((text): text is T => (names as readonly string[]).includes(text), {
    message: `must be one of ${names.join(', ')}`,
  }).transform((text) => text as T);
const mqttUrl = z.string().refine((text) => {
  try {
    return ['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:', 'ssl:', 'tls:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}, { message: 'must be an mqtt://, mqtts://, ws:// or wss:// URL' });
const httpUrl = z.string().refine((text) => {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}, { message: 'must be an http:// or https:// URL' });
const badKinds = z.string().transform((text, ctx) => {
  const kinds = text.split(',').map((kind) => kind.trim()).filter((kind) => kind !== '');
  const unknown = kinds.filter((kind) => !(BAD_KINDS as readonly string[]).includes(kind));
  if (unknown.length > 0 || kinds.length === 0) {
    ctx.addIssue({ code: 'custom', message: `unknown kind ${unknown.join(', ') || '(empty)'}; kinds: ${BAD_KINDS.join(', ')}` });
    return z.NEVER;
  }
  return [...new Set(kinds)] as BadKind[];
});

/** One entry per flag; values are the raw strings/booleans of parseArgs (after env fallbacks). */
const schema = z.object({
  url: mqttUrl.default('mqtt://127.0.0.1:1883'),
  devices: positiveInt(1_000_000).default(10),
  profile: oneOf([...PROFILE_NAMES, 'mixed'] as const).default('thermostat'),
  prefix: z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'must be 1-100 characters of A-Z a-z 0-9 _ . : -').default('sim'),
  'connect-rate': positive.default(100),
  'connect-timeout': positiveSeconds.default(10),
  keepalive: number((n) => n.int().min(0).max(65535)).default(30),
  'reconnect-min': positive.default(500),
  'reconnect-max': positive.default(30_000),
  rate: positive.optional(),
  'total-rate': positive.optional(),
  duration: positiveSeconds.optional(),
  count: positiveInt().optional(),
  qos: oneOf(['0', '1'] as const).transform((text) => (text === '1' ? 1 : 0) as 0 | 1).default(1),
  inflight: positiveInt(65_000).default(10),
  batch: positiveInt(MAX_BATCH).default(1),
  format: oneOf(PAYLOAD_FORMATS).default('flat'),
  seed: number((n) => n.int().min(0).max(0xffffffff)).optional(),
  'drain-timeout': seconds.default(10),
  scenario: oneOf(SCENARIO_NAMES).default('steady'),
  'ramp-time': seconds.optional(),
  'spike-at': seconds.optional(),
  'spike-duration': positiveSeconds.optional(),
  'spike-factor': number((n) => n.min(1)).optional(),
  'storm-at': seconds.optional(),
  'storm-share': share.optional(),
  'storm-downtime': seconds.optional(),
  'bad-share': share.optional(),
  'bad-kinds': badKinds.optional(),
  'username-pattern': z.string().min(1).optional(),
  'password-pattern': z.string().optional(),
  'credentials-file': z.string().min(1).optional(),
  ca: z.string().min(1).optional(),
  insecure: z.boolean().default(false),
  verify: z.boolean().default(false),
  'dynamodb-endpoint': httpUrl.default('http://127.0.0.1:4567'),
  region: z.string().min(1).default('us-east-1'),
  table: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)').default('telemetry'),
  'verify-concurrency': positiveInt(256).default(8),
  'min-rate': number((n) => n.min(0)).optional(),
  json: z.boolean().default(false),
  'progress-interval': positiveSeconds.default(5),
  quiet: z.boolean().default(false),
  'log-level': z.string().optional(),
  help: z.boolean().default(false),
  version: z.boolean().default(false),
});
type Raw = z.output<typeof schema>;

const SCENARIO_FLAGS: Readonly<Record<string, readonly OptionName[]>> = {
  ramp: ['ramp-time'],
  spike: ['spike-at', 'spike-duration', 'spike-factor'],
  'reconnect-storm': ['storm-at', 'storm-share', 'storm-downtime'],
  'bad-actors': ['bad-share', 'bad-kinds'],
};

function readFlags(argv: readonly string[], env: NodeJS.ProcessEnv): { values: Record<string, unknown>; errors: string[] } {
  const { values, errors } = parseFlags(simulatorOptions(), argv, env);
  return { values: { ...values }, errors: [...errors] };
}

/** Checks on which flags were given together; they need no parsed values, so they always run. */
function presenceCheck(values: Readonly<Record<string, unknown>>): string[] {
  const errors: string[] = [];
  const given = (name: OptionName): boolean => values[name] !== undefined;
  if (given('rate') && given('total-rate')) errors.push('--total-rate: give either --rate or --total-rate, not both');
  const scenario = typeof values.scenario === 'string' ? values.scenario : 'steady';
  for (const [owner, flags] of Object.entries(SCENARIO_FLAGS)) {
    for (const flag of flags) {
      if (given(flag) && scenario !== owner) errors.push(`--${flag}: applies only to --scenario ${owner}`);
    }
  }
  if (given('password-pattern') && !given('username-pattern')) errors.push('--password-pattern: needs --username-pattern');
  if (given('credentials-file') && given('username-pattern')) {
    errors.push('--credentials-file: give either --credentials-file or --username-pattern, not both');
  }
  return errors;
}

function scenarioOf(raw: Raw, plannedMs: number): Scenario {
  const ms = (s: number | undefined, fallbackMs: number): number => (s === undefined ? fallbackMs : s * 1000);
  switch (raw.scenario) {
    case 'steady':
      return { name: 'steady' };
    case 'ramp':
      return { name: 'ramp', rampMs: ms(raw['ramp-time'], plannedMs / 2) };
    case 'spike':
      return {
        name: 'spike',
        atMs: ms(raw['spike-at'], plannedMs * 0.4),
        durationMs: ms(raw['spike-duration'], Math.max(1000, plannedMs * 0.1)),
        factor: raw['spike-factor'] ?? 5,
      };
    case 'reconnect-storm':
      return {
        name: 'reconnect-storm',
        atMs: ms(raw['storm-at'], plannedMs / 3),
        share: raw['storm-share'] ?? 0.5,
        downtimeMs: ms(raw['storm-downtime'], Math.min(5000, Math.max(500, plannedMs * 0.1))),
      };
    case 'bad-actors':
      return { name: 'bad-actors', share: raw['bad-share'] ?? 0.1, kinds: raw['bad-kinds'] ?? [...BAD_KINDS] };
  }
}

/** `randomSeed` supplies the seed when --seed is absent (the caller owns the randomness). */
export function parseSimulateArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  randomSeed: () => number = () => Math.floor(Math.random() * 0xffffffff),
): ParseResult {
  const { values, errors } = readFlags(argv, env);
  if (values.help === true) return { kind: 'help' };
  if (values.version === true) return { kind: 'version' };
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? '');
      const value = values[name] === undefined ? undefined : String(values[name]);
      const message = describeIssue(issue);
      errors.push(`--${name}: ${message}${value === undefined || message.includes(value) ? '' : ` (got "${value}")`}`);
    }
  }
  errors.push(...presenceCheck(values));
  if (errors.length > 0 || !parsed.success) return { kind: 'error', errors };

  const raw = parsed.data;
  if (raw['reconnect-max'] < raw['reconnect-min']) errors.push('--reconnect-max: must be at least --reconnect-min');
  const ratePerDevice = raw['total-rate'] !== undefined ? raw['total-rate'] / raw.devices : raw.rate ?? 1;
  const durationMs = raw.duration !== undefined ? raw.duration * 1000
    : raw.count === undefined ? 60_000 : undefined;
  const plannedDurationMs = durationMs ?? ((raw.count ?? 0) / ratePerDevice) * 1000;
  const scenario = scenarioOf(raw, plannedDurationMs);
  const peak = ratePerDevice * peakMultiplier(scenario);
  if (peak > MAX_READINGS_PER_SECOND_PER_DEVICE) {
    const flag = raw['total-rate'] !== undefined ? '--total-rate' : '--rate';
    errors.push(`${flag}: ${peak} readings/s per device${scenario.name === 'spike' ? ' at the spike' : ''} is above `
      + `${MAX_READINGS_PER_SECOND_PER_DEVICE} (ts is in ms and must be unique per device); use more devices`);
  }
  if (errors.length > 0) return { kind: 'error', errors };

  return {
    kind: 'ok',
    options: {
      url: raw.url,
      devices: raw.devices,
      profile: raw.profile,
      prefix: raw.prefix,
      connectRatePerSecond: raw['connect-rate'],
      connectTimeoutMs: raw['connect-timeout'] * 1000,
      keepaliveSeconds: raw.keepalive,
      reconnectMinMs: raw['reconnect-min'],
      reconnectMaxMs: raw['reconnect-max'],
      ratePerDevice,
      durationMs,
      count: raw.count,
      plannedDurationMs,
      qos: raw.qos,
      inflight: raw.inflight,
      batch: raw.batch,
      format: raw.format,
      seed: raw.seed ?? randomSeed(),
      drainTimeoutMs: raw['drain-timeout'] * 1000,
      scenario,
      usernamePattern: raw['username-pattern'],
      passwordPattern: raw['password-pattern'],
      credentialsFile: raw['credentials-file'],
      caFile: raw.ca,
      insecure: raw.insecure,
      verify: raw.verify,
      dynamodbEndpoint: raw['dynamodb-endpoint'],
      region: raw.region,
      table: raw.table,
      verifyConcurrency: raw['verify-concurrency'],
      minRate: raw['min-rate'],
      json: raw.json,
      progressIntervalMs: raw['progress-interval'] * 1000,
      quiet: raw.quiet,
      logLevel: raw['log-level'],
    },
  };
}
