// `iot-ingest simulate --help`: every option (from OPTION_SPECS), every scenario, profile, bad
// message kind and exit code.
import { BAD_KINDS, BAD_KIND_DESCRIPTIONS } from './badActors.ts';
import { formatOptions, formatRows } from '../src/cli/options.ts';
import { EXIT_CODE_HELP } from './exitCodes.ts';
import { simulatorOptions } from './optionSpecs.ts';
import { PROFILE_NAMES, PROFILES } from './profiles.ts';
import { SCENARIO_DESCRIPTIONS, SCENARIO_NAMES } from './scenarios.ts';

function listLines(entries: ReadonlyArray<readonly [string, string]>): string {
  return formatRows(entries, 20);
}

export function helpText(): string {
  return `Usage: iot-ingest simulate [options]
       npm run simulate -- [options]

Drive a fleet of simulated devices at the service over MQTT: each device is its own connection and
publishes readings to devices/{deviceId}/telemetry. Progress goes to stderr, the summary to stdout.
With QoS 1 the service acknowledges a reading only once it is stored, so --verify can prove that
every acknowledged reading is in DynamoDB.

${formatOptions(simulatorOptions())}

Scenarios (--scenario):
${listLines(SCENARIO_NAMES.map((name) => [name, SCENARIO_DESCRIPTIONS[name]] as const))}

Profiles (--profile):
${listLines(PROFILE_NAMES.map((name) => [name, PROFILES[name].description] as const))}
  mixed             devices take the four profiles in turn: 1 thermostat, 2 air-quality, 3 vibration,
                    4 gps, 5 thermostat, ...

Bad message kinds (--bad-kinds, scenario bad-actors):
${listLines(BAD_KINDS.map((kind) => [kind, BAD_KIND_DESCRIPTIONS[kind]] as const))}

Timestamps: every reading of a device has its own ts (epoch ms, strictly increasing per device),
since (deviceId, ts) identifies a stored reading. The readings of a --batch are back-dated by the
nominal interval 1/--rate. Payload content depends only on --seed, the device number and the
reading's sequence number, never on timing.

Exit codes:
${listLines(EXIT_CODE_HELP.map(([code, text]) => [String(code), text] as const))}

Examples:
  iot-ingest simulate --devices 100 --rate 2 --duration 60 --verify
  iot-ingest simulate -n 1000 --total-rate 5000 --scenario spike --spike-factor 4 --json
  iot-ingest simulate -n 50 --scenario bad-actors --bad-share 0.2 --bad-kinds bad-json,wrong-topic
  iot-ingest simulate --url mqtts://broker:8883 --ca ca.pem --username-pattern 'user-{id}' --password-pattern 's3cret-{n}'
`;
}
