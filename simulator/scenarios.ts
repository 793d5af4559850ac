// Scenarios shape a run over time: how the publish rate moves (ramp, spike), when connections
// drop (reconnect-storm) and whether some messages are invalid (bad-actors).
import type { BadKind } from './badActors.ts';

export const SCENARIO_NAMES = ['steady', 'ramp', 'spike', 'reconnect-storm', 'bad-actors'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export type Scenario =
  | { readonly name: 'steady' }
  | { readonly name: 'ramp'; readonly rampMs: number }
  | { readonly name: 'spike'; readonly atMs: number; readonly durationMs: number; readonly factor: number }
  | { readonly name: 'reconnect-storm'; readonly atMs: number; readonly share: number; readonly downtimeMs: number }
  | { readonly name: 'bad-actors'; readonly share: number; readonly kinds: readonly BadKind[] };

export const SCENARIO_DESCRIPTIONS: Readonly<Record<ScenarioName, string>> = {
  steady: 'every device publishes at --rate for the whole run.',
  ramp: 'the rate grows linearly from 0 to --rate over --ramp-time, then holds: where does latency bend?',
  spike: 'steady, then for --spike-duration seconds from --spike-at every device publishes at '
    + '--spike-factor x --rate (a Black-Friday moment), then back to steady.',
  'reconnect-storm': 'steady; at --storm-at a --storm-share of the devices lose their connection at once '
    + 'and all come back together after --storm-downtime (their unacknowledged QoS 1 messages are resent, '
    + 'no acknowledged reading may be lost).',
  'bad-actors': 'steady, but a --bad-share of the messages are invalid, spread over --bad-kinds: '
    + 'bad-json, wrong-type, oversized (acked and dead-lettered by the service, counted as invalid), '
    + 'wrong-topic (QoS 0; the service closes the connection and counts it as forbidden; the device '
    + 'reconnects with jitter). The summary counts each kind; bad messages are never verified.',
};

/** The factor applied to the base rate `elapsedMs` after the start. */
export function rateMultiplier(scenario: Scenario, elapsedMs: number): number {
  switch (scenario.name) {
    case 'ramp':
      return scenario.rampMs <= 0 ? 1 : Math.min(1, Math.max(0, elapsedMs / scenario.rampMs));
    case 'spike':
      return elapsedMs >= scenario.atMs && elapsedMs < scenario.atMs + scenario.durationMs ? scenario.factor : 1;
    default:
      return 1;
  }
}

/** The largest multiplier the scenario ever applies (for the per-device rate bound). */
export function peakMultiplier(scenario: Scenario): number {
  return scenario.name === 'spike' ? Math.max(1, scenario.factor) : 1;
}

/** Milliseconds from `elapsedMs` until the multiplier may change (bounds a device's sleep). */
export function msUntilRateChange(scenario: Scenario, elapsedMs: number): number {
  switch (scenario.name) {
    case 'ramp':
      return elapsedMs < scenario.rampMs ? 100 : Infinity;
    case 'spike': {
      const end = scenario.atMs + scenario.durationMs;
      if (elapsedMs < scenario.atMs) return scenario.atMs - elapsedMs;
      if (elapsedMs < end) return end - elapsedMs;
      return Infinity;
    }
    default:
      return Infinity;
  }
}
