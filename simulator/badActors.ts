// Invalid messages for the `bad-actors` scenario. Each kind is invalid in exactly one way, so the
// service counts it once: bad JSON, a wrong type (ts as a word, illegal or reserved attribute
// names), an oversized payload, or a publish to a topic that is not a telemetry topic.
import type { Attributes } from './profiles.ts';
import type { Random } from './prng.ts';
import { pick } from './prng.ts';

export const BAD_KINDS = ['bad-json', 'wrong-type', 'oversized', 'wrong-topic'] as const;
export type BadKind = (typeof BAD_KINDS)[number];

export const BAD_KIND_DESCRIPTIONS: Readonly<Record<BadKind, string>> = {
  'bad-json': 'payload that is not JSON (truncated, single quotes, plain text); the service acks and dead-letters it',
  'wrong-type': 'ts that is not a time ("yesterday", true), an attribute name with illegal characters, '
    + 'or a reserved name (deviceId); acked and dead-lettered',
  oversized: `one reading padded past the 128 KiB payload limit; acked and dead-lettered`,
  'wrong-topic': 'a reading published to a topic other than devices/{id}/telemetry, always at QoS 0; '
    + 'the service closes the connection and the device reconnects (with jitter)',
};

/** The service's default payload limit (like AWS IoT Core). */
export const PAYLOAD_LIMIT_BYTES = 128 * 1024;
/** Oversized payloads exceed the limit by this much, so that JSON overhead cannot matter. */
const OVERSIZE_MARGIN_BYTES = 1024;

export interface BadMessage {
  readonly kind: BadKind;
  readonly topic: string;
  readonly payload: string;
  /** Always 0 for wrong-topic: the connection is closed, and a QoS 1 packet would be resent forever. */
  readonly forceQos0: boolean;
}

export function telemetryTopic(deviceId: string): string {
  return `devices/${deviceId}/telemetry`;
}

/**
 * Builds one bad message. `attributes` is a valid reading of the device's profile, so that apart
 * from its one defect the message looks like the device's normal traffic.
 */
export function createBadMessage(
  kind: BadKind,
  random: Random,
  deviceId: string,
  ts: number,
  attributes: Attributes,
): BadMessage {
  const topic = telemetryTopic(deviceId);
  const valid = JSON.stringify({ ts, ...attributes });
  switch (kind) {
    case 'bad-json': {
      const variant = pick(random, ['truncated', 'single-quotes', 'text'] as const);
      const payload = variant === 'truncated'
        ? valid.slice(0, Math.max(1, Math.floor(valid.length * (0.3 + 0.5 * random()))))
        : variant === 'single-quotes'
          ? valid.replaceAll('"', "'")
          : `temperature=${(20 + 5 * random()).toFixed(1)}`;
      return { kind, topic, payload, forceQos0: false };
    }
    case 'wrong-type': {
      const variant = pick(random, ['ts-word', 'ts-boolean', 'illegal-name', 'reserved-name'] as const);
      const reading: Record<string, unknown> =
        variant === 'ts-word' ? { ts: 'yesterday', ...attributes }
          : variant === 'ts-boolean' ? { ts: true, ...attributes }
            : variant === 'illegal-name' ? { ts, ...attributes, 'temp-°C!': 21.5 }
              : { ts, ...attributes, deviceId: 'someone-else' };
      return { kind, topic, payload: JSON.stringify(reading), forceQos0: false };
    }
    case 'oversized': {
      const padding = 'x'.repeat(PAYLOAD_LIMIT_BYTES + OVERSIZE_MARGIN_BYTES);
      return { kind, topic, payload: JSON.stringify({ ts, ...attributes, padding }), forceQos0: false };
    }
    case 'wrong-topic': {
      const wrong = pick(random, [`devices/${deviceId}/config`, `sensors/${deviceId}/data`]);
      return { kind, topic: wrong, payload: valid, forceQos0: true };
    }
  }
}
