// What one simulated device publishes, message by message: readings of its profile (one, or a
// batch of K), in the flat or the ThingsBoard `values` form, and in the bad-actors scenario now and
// then an invalid message. Content depends on (seed, device index, sequence) only; `ts` is the one
// thing taken from the clock, made strictly increasing per device because (deviceId, ts) is a
// reading's identity in the table.
import type { BadKind } from './badActors.ts';
import { createBadMessage, telemetryTopic } from './badActors.ts';
import type { Attributes, Profile } from './profiles.ts';
import { deviceRandom, pick } from './prng.ts';

export const PAYLOAD_FORMATS = ['flat', 'values'] as const;
export type PayloadFormat = (typeof PAYLOAD_FORMATS)[number];

export type MessageKind = 'telemetry' | BadKind;

export interface OutgoingMessage {
  readonly kind: MessageKind;
  readonly topic: string;
  readonly payload: string;
  /** ts of every reading carried (empty for bad messages: none of them should be stored). */
  readonly readingTs: readonly number[];
  /** QoS 0 regardless of --qos (wrong-topic messages). */
  readonly forceQos0: boolean;
}

export interface MessageSourceOptions {
  readonly seed: number;
  readonly deviceIndex: number;
  readonly deviceId: string;
  readonly profile: Profile;
  readonly format: PayloadFormat;
  /** Readings per message; > 1 sends a JSON array (a device flushing its buffer). */
  readonly batch: number;
  /** Spacing of the readings in one batch, back-dated from the send time. */
  readonly readingIntervalMs: number;
  /** Probability that a message is invalid (bad-actors scenario), 0 otherwise. */
  readonly badShare: number;
  readonly badKinds: readonly BadKind[];
}

export interface MessageSource {
  /**
   * The next message, its readings stamped at or before `nowMs` (later only to stay unique).
   * `maxReadings` shortens the last batch of a --count run.
   */
  next(nowMs: number, maxReadings?: number): OutgoingMessage;
}

/** Strictly increasing epoch-ms timestamps for one device. */
export class DeviceClock {
  private last = -Infinity;

  next(candidateMs: number): number {
    const ts = Math.max(Math.floor(candidateMs), this.last + 1);
    this.last = ts;
    return ts;
  }
}

export function formatReading(format: PayloadFormat, ts: number, attributes: Attributes): Attributes {
  return format === 'flat' ? { ts, ...attributes } : { ts, values: attributes };
}

export function createMessageSource(options: MessageSourceOptions): MessageSource {
  const dataRandom = deviceRandom(options.seed, options.deviceIndex, 'data');
  const badRandom = deviceRandom(options.seed, options.deviceIndex, 'bad');
  const generator = options.profile.createGenerator(dataRandom);
  const clock = new DeviceClock();
  const topic = telemetryTopic(options.deviceId);

  return {
    next(nowMs, maxReadings = options.batch) {
      if (options.badShare > 0 && options.badKinds.length > 0 && badRandom() < options.badShare) {
        const kind = pick(badRandom, options.badKinds);
        const bad = createBadMessage(kind, badRandom, options.deviceId, clock.next(nowMs), generator.next());
        return { kind, topic: bad.topic, payload: bad.payload, readingTs: [], forceQos0: bad.forceQos0 };
      }
      const count = Math.max(1, Math.min(options.batch, maxReadings));
      const readingTs: number[] = [];
      const readings: Attributes[] = [];
      for (let i = 0; i < count; i += 1) {
        const ts = clock.next(nowMs - (count - 1 - i) * options.readingIntervalMs);
        readingTs.push(ts);
        readings.push(formatReading(options.format, ts, generator.next()));
      }
      const payload = JSON.stringify(count === 1 ? readings[0] : readings);
      return { kind: 'telemetry', topic, payload, readingTs, forceQos0: false };
    },
  };
}
