// Counters of a run and PUBACK latency percentiles from a fixed log-scale histogram: constant
// memory whatever the message count, about 2.5 % relative error per bucket.
import type { BadKind } from './badActors.ts';
import { BAD_KINDS } from './badActors.ts';

const MIN_MS = 0.05;
const MAX_MS = 600_000;
const GROWTH = 1.05;
const BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) / Math.log(GROWTH)) + 2;

export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  private total = 0;
  private maxMs = 0;

  record(ms: number): void {
    const index = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(ms / MIN_MS) / Math.log(GROWTH)));
    this.counts[index] = (this.counts[index] ?? 0) + 1;
    this.total += 1;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  get count(): number {
    return this.total;
  }

  /** The q-quantile (0 < q <= 1) in ms, as the bucket's geometric middle; undefined when empty. */
  quantile(q: number): number | undefined {
    if (this.total === 0) return undefined;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i += 1) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) {
        if (i === 0) return MIN_MS;
        const lower = MIN_MS * GROWTH ** (i - 1);
        return Math.min(this.maxMs, lower * Math.sqrt(GROWTH));
      }
    }
    return this.maxMs;
  }

  get max(): number | undefined {
    return this.total === 0 ? undefined : this.maxMs;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.maxMs = 0;
  }
}

export type BadCounts = Record<BadKind, number>;

export function emptyBadCounts(): BadCounts {
  return Object.fromEntries(BAD_KINDS.map((kind) => [kind, 0])) as BadCounts;
}

/** Everything the fleet counts; the progress view and the summary read it. */
export class FleetStats {
  connected = 0;
  connects = 0;
  connectFailures = 0;
  disconnects = 0;
  /** Telemetry messages written to the socket (QoS 0) or sent and awaiting/with a PUBACK (QoS 1). */
  messagesSent = 0;
  readingsSent = 0;
  messagesAcked = 0;
  readingsAcked = 0;
  /** Publishes that failed (client error, connection closed at the end while unacknowledged). */
  errors = 0;
  /** Publishes still without a PUBACK when the run closed its connections. */
  unacked = 0;
  inflight = 0;
  /** Devices that finished their --count. */
  finished = 0;
  /** The last connection or publish error seen, for the summary. */
  lastError: string | undefined;
  badSent: BadCounts = emptyBadCounts();
  /** Bad messages (other than wrong-topic) the service acknowledged. */
  badAcked = 0;
  readonly latency = new LatencyHistogram();
  /** Latency since the last progress tick (reset by the progress view). */
  readonly recentLatency = new LatencyHistogram();

  get badTotal(): number {
    return Object.values(this.badSent).reduce((sum, n) => sum + n, 0);
  }

  recordAck(readings: number, latencyMs: number): void {
    this.messagesAcked += 1;
    this.readingsAcked += readings;
    this.latency.record(latencyMs);
    this.recentLatency.record(latencyMs);
  }
}
