// The simulator's command-line options as data: parseArgs' configuration, the help text and the
// environment fallbacks are all derived from this one table (validation lives in options.ts).
// The shared parser and help formatter of every iot-ingest command read it through simulatorOptions().
import type { OptionDef } from '../src/cli/options.ts';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** Placeholder shown in --help, e.g. N or URL. */
  readonly value?: string;
  /** Default shown in --help (the schema in options.ts applies it). */
  readonly defaultText?: string;
  /** Environment variable read when the flag is absent. */
  readonly env?: string;
  readonly group: string;
  readonly description: string;
}

export const OPTION_SPECS = {
  url: { type: 'string', value: 'URL', defaultText: 'mqtt://127.0.0.1:1883', env: 'MQTT_URL', group: 'Fleet',
    description: 'broker URL: mqtt://, mqtts://, ws:// or wss://' },
  devices: { type: 'string', short: 'n', value: 'N', defaultText: '10', group: 'Fleet',
    description: 'devices, each its own MQTT connection' },
  profile: { type: 'string', short: 'p', value: 'NAME', defaultText: 'thermostat', group: 'Fleet',
    description: 'thermostat | air-quality | vibration | gps | mixed (round-robin over the four)' },
  prefix: { type: 'string', value: 'TEXT', defaultText: 'sim', group: 'Fleet',
    description: 'device ids are {prefix}-{profile}-{n}, n = 1..N (also the MQTT client id)' },
  'connect-rate': { type: 'string', value: 'PER_S', defaultText: '100', group: 'Fleet',
    description: 'at most this many connection attempts per second while the fleet comes up' },
  'connect-timeout': { type: 'string', value: 'S', defaultText: '10', group: 'Fleet',
    description: 'seconds to wait for CONNACK' },
  keepalive: { type: 'string', value: 'S', defaultText: '30', group: 'Fleet',
    description: 'MQTT keepalive in seconds' },
  'reconnect-min': { type: 'string', value: 'MS', defaultText: '500', group: 'Fleet',
    description: 'reconnect backoff: first delay cap in ms (full jitter: a random delay in 0..cap)' },
  'reconnect-max': { type: 'string', value: 'MS', defaultText: '30000', group: 'Fleet',
    description: 'reconnect backoff: largest delay cap in ms (the cap doubles per failed attempt)' },

  rate: { type: 'string', short: 'r', value: 'PER_S', defaultText: '1', group: 'Load',
    description: 'readings per second per device (fractional allowed: 0.1 = one every 10 s)' },
  'total-rate': { type: 'string', value: 'PER_S', group: 'Load',
    description: 'readings per second across the fleet instead of --rate (open loop, split evenly)' },
  duration: { type: 'string', short: 'd', value: 'DURATION', group: 'Load',
    description: 'run time: seconds, or with a unit: 30s, 10m, 1h (default 60s unless --count is given)' },
  count: { type: 'string', short: 'c', value: 'N', group: 'Load',
    description: 'readings per device, then stop (with --duration: whichever comes first)' },
  qos: { type: 'string', value: '0|1', defaultText: '1', group: 'Load',
    description: 'QoS of telemetry publishes; QoS 1 waits for the PUBACK (the service sends it once stored)' },
  inflight: { type: 'string', value: 'N', defaultText: '10', group: 'Load',
    description: 'QoS 1: unacknowledged messages per device before it waits (a slower service slows the device)' },
  batch: { type: 'string', short: 'b', value: 'K', defaultText: '1', group: 'Load',
    description: 'readings per message: K > 1 sends a JSON array (a device flushing its offline buffer)' },
  format: { type: 'string', value: 'FORM', defaultText: 'flat', group: 'Load',
    description: 'flat {"ts", "temperature", ...} | values {"ts", "values": {...}} (ThingsBoard style)' },
  seed: { type: 'string', value: 'N', defaultText: 'random, printed in the summary', group: 'Load',
    description: 'seed of all payload content: same seed, same options => same payloads (except ts)' },
  'drain-timeout': { type: 'string', value: 'S', defaultText: '10', group: 'Load',
    description: 'at the end, seconds to wait for outstanding PUBACKs before closing' },

  scenario: { type: 'string', short: 's', value: 'NAME', defaultText: 'steady', group: 'Scenario',
    description: 'steady | ramp | spike | reconnect-storm | bad-actors (see Scenarios below)' },
  'ramp-time': { type: 'string', value: 'S', defaultText: 'half the run', group: 'Scenario',
    description: 'ramp: seconds from 0 to the target rate' },
  'spike-at': { type: 'string', value: 'S', defaultText: '40% into the run', group: 'Scenario',
    description: 'spike: seconds after the start when the burst begins' },
  'spike-duration': { type: 'string', value: 'S', defaultText: '10% of the run, at least 1', group: 'Scenario',
    description: 'spike: how long the burst lasts' },
  'spike-factor': { type: 'string', value: 'K', defaultText: '5', group: 'Scenario',
    description: 'spike: rate multiplier during the burst' },
  'storm-at': { type: 'string', value: 'S', defaultText: 'a third into the run', group: 'Scenario',
    description: 'reconnect-storm: seconds after the start when connections drop' },
  'storm-share': { type: 'string', value: 'FRACTION', defaultText: '0.5', group: 'Scenario',
    description: 'reconnect-storm: share of devices that drop' },
  'storm-downtime': { type: 'string', value: 'S', defaultText: '10% of the run, 0.5..5', group: 'Scenario',
    description: 'reconnect-storm: seconds offline before they all come back at once' },
  'bad-share': { type: 'string', value: 'FRACTION', defaultText: '0.1', group: 'Scenario',
    description: 'bad-actors: share of messages that are invalid' },
  'bad-kinds': { type: 'string', value: 'LIST', defaultText: 'all', group: 'Scenario',
    description: 'bad-actors: comma-separated subset of bad-json,wrong-type,oversized,wrong-topic' },

  'username-pattern': { type: 'string', value: 'PATTERN', group: 'Credentials and TLS',
    description: 'MQTT username per device; {id} = device id, {n} = device number' },
  'password-pattern': { type: 'string', value: 'PATTERN', group: 'Credentials and TLS',
    description: 'MQTT password per device; same placeholders' },
  'credentials-file': { type: 'string', value: 'FILE', group: 'Credentials and TLS',
    description: 'CSV of deviceId,username,password (header line optional); every device must be listed' },
  ca: { type: 'string', value: 'FILE', group: 'Credentials and TLS',
    description: 'PEM CA bundle to trust for mqtts:// and wss://' },
  insecure: { type: 'boolean', group: 'Credentials and TLS',
    description: 'do not verify the server certificate (testing only)' },

  verify: { type: 'boolean', group: 'Verification',
    description: 'after the run, read back every acknowledged reading from DynamoDB; exit 3 if any is missing' },
  'dynamodb-endpoint': { type: 'string', value: 'URL', defaultText: 'http://127.0.0.1:4567', env: 'DYNAMODB_ENDPOINT',
    group: 'Verification', description: 'DynamoDB API endpoint (the service\'s embedded one by default)' },
  region: { type: 'string', value: 'REGION', defaultText: 'us-east-1', env: 'AWS_REGION', group: 'Verification',
    description: 'AWS region' },
  table: { type: 'string', value: 'NAME', defaultText: 'telemetry', env: 'TABLE_NAME', group: 'Verification',
    description: 'telemetry table' },
  'verify-concurrency': { type: 'string', value: 'N', defaultText: '8', group: 'Verification',
    description: 'devices queried in parallel while verifying' },
  'min-rate': { type: 'string', value: 'PER_S', group: 'Verification',
    description: 'exit 4 if fewer readings/s than this were acknowledged (QoS 0: sent) on average' },

  json: { type: 'boolean', group: 'Output',
    description: 'print the summary as one JSON object on stdout instead of a table' },
  'progress-interval': { type: 'string', value: 'S', defaultText: '5', group: 'Output',
    description: 'seconds between progress lines when stderr is not a terminal (a terminal redraws every 0.5 s)' },
  quiet: { type: 'boolean', short: 'q', group: 'Output', description: 'no progress output' },
  'log-level': { type: 'string', value: 'LEVEL', env: 'LOG_LEVEL', group: 'Output',
    description: 'debug: print the stack trace of an internal error' },
  help: { type: 'boolean', short: 'h', group: 'Output', description: 'show this help' },
  version: { type: 'boolean', group: 'Output', description: 'print the version' },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTION_SPECS;
export const OPTION_NAMES = Object.keys(OPTION_SPECS) as OptionName[];

/** The simulator's options in the shared layout of every iot-ingest command. */
export function simulatorOptions(): OptionDef[] {
  return OPTION_NAMES.map((name) => {
    const spec: OptionSpec = OPTION_SPECS[name];
    return {
      flag: name, kind: spec.type, help: spec.description, group: spec.group,
      ...(spec.short === undefined ? {} : { short: spec.short }),
      ...(spec.value === undefined ? {} : { value: spec.value }),
      ...(spec.env === undefined ? {} : { env: spec.env }),
      ...(spec.defaultText === undefined ? {} : { defaultText: spec.defaultText }),
    };
  });
}
