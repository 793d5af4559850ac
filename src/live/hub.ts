// Fans stored readings out to live subscribers (SSE streams, MQTT applications on $stored/...).
// Each reading goes out as the stored item (the same JSON the read API returns). A subscriber with
// more unsent bytes than the bound skips readings (counted) instead of holding anything up, and
// one that has skipped without a break for SLOW_DROP_MS is disconnected. Nothing here can slow
// ingestion: the hub is called after the batch is stored and only ever writes what fits.
// In cluster mode the hub is given the broker's emitter: stored readings then travel through it
// ($iot-ingest/stored) so that every replica's subscribers see every replica's readings.
import type { Reading } from '../ingest/reading.ts';
import { toItem } from '../storage/item.ts';
import type { BrokerEmitter, EmitterPacket } from '../broker/internals.ts';
import type { LiveMetrics } from './metrics.ts';

export const SLOW_DROP_MS = 30_000;
const STORED_TOPIC = '$iot-ingest/stored';

export type Transport = 'sse' | 'mqtt';

export interface LiveEvent {
  readonly deviceId: string;
  readonly ts: number;
  /** The stored item as JSON text. */
  readonly json: string;
}

export interface LiveSubscriber {
  readonly transport: Transport;
  /** Whether it wants this device's readings; undefined = all devices. */
  readonly accepts?: ((deviceId: string) => boolean) | undefined;
  /** Events per second at most (token bucket, burst of one second); undefined = unbounded. */
  readonly maxEventsPerSecond?: number | undefined;
  /** Unsent bytes queued for this subscriber now. */
  bufferedBytes(): number;
  /** Sends the event (it fits). */
  send(event: LiveEvent, skippedBefore: number): void;
  /** Disconnects a subscriber that stayed too slow. */
  drop(): void;
}

interface State {
  tokens: number;
  refilledAt: number;
  skipped: number;
  slowSince: number | undefined;
}

export interface LiveHubOptions {
  readonly retentionDays: number | undefined;
  readonly maxBufferedBytes: number;
  readonly metrics: LiveMetrics;
  readonly now?: () => number;
}

export class LiveHub {
  private readonly subscribers = new Map<LiveSubscriber, State>();
  private readonly now: () => number;
  private storedCount = 0;
  private emitter: BrokerEmitter | undefined;
  private readonly onShared = (packet: EmitterPacket, done: () => void): void => {
    done();
    if (this.subscribers.size === 0) return;
    const payload = typeof packet.payload === 'string' ? packet.payload : packet.payload.toString('utf8');
    this.dispatch((JSON.parse(payload) as { deviceId: string; ts: number }[]).map((item) => ({ deviceId: item.deviceId, ts: item.ts, json: JSON.stringify(item) })));
  };

  readonly metrics: LiveMetrics;

  constructor(private readonly o: LiveHubOptions) {
    this.metrics = o.metrics;
    this.now = o.now ?? Date.now;
  }

  /** Cluster mode: stored batches travel through the broker's shared emitter to every replica's hub. */
  shareThrough(emitter: BrokerEmitter): void {
    this.emitter = emitter;
    emitter.on(STORED_TOPIC, this.onShared);
  }

  add(subscriber: LiveSubscriber): () => void {
    this.subscribers.set(subscriber, { tokens: subscriber.maxEventsPerSecond ?? 0, refilledAt: this.now(), skipped: 0, slowSince: undefined });
    return () => this.subscribers.delete(subscriber);
  }

  count(transport: Transport): number {
    let n = 0;
    for (const s of this.subscribers.keys()) if (s.transport === transport) n++;
    return n;
  }

  /** Readings stored by this replica so far (the console's throughput chart). */
  stored(): number {
    return this.storedCount;
  }

  /** Called with each stored batch, in order. */
  publish(readings: readonly Reading[]): void {
    this.storedCount += readings.length;
    if (this.emitter) {
      const items = readings.map((r) => toItem(r, this.o.retentionDays));
      this.emitter.emit({ topic: STORED_TOPIC, payload: Buffer.from(JSON.stringify(items)) });
      return;
    }
    if (this.subscribers.size === 0) return;
    this.dispatch(readings.map((r) => ({ deviceId: r.deviceId, ts: r.ts, json: JSON.stringify(toItem(r, this.o.retentionDays)) })));
  }

  close(): void {
    this.emitter?.removeListener(STORED_TOPIC, this.onShared);
    this.subscribers.clear();
  }

  private dispatch(events: readonly LiveEvent[]): void {
    const now = this.now();
    const { metrics } = this.o;
    for (const [sub, state] of this.subscribers) {
      if (sub.maxEventsPerSecond !== undefined) {
        state.tokens = Math.min(sub.maxEventsPerSecond, state.tokens + ((now - state.refilledAt) / 1000) * sub.maxEventsPerSecond);
        state.refilledAt = now;
      }
      let sentAny = false;
      let slow = false;
      for (const event of events) {
        if (sub.accepts && !sub.accepts(event.deviceId)) continue;
        if (sub.maxEventsPerSecond !== undefined && state.tokens < 1) {
          state.skipped++;
          metrics.skipped.inc({ transport: sub.transport, reason: 'rate' });
          continue;
        }
        if (sub.bufferedBytes() > this.o.maxBufferedBytes) {
          slow = true;
          state.skipped++;
          metrics.skipped.inc({ transport: sub.transport, reason: 'slow' });
          continue;
        }
        if (sub.maxEventsPerSecond !== undefined) state.tokens -= 1;
        sub.send(event, state.skipped);
        state.skipped = 0;
        sentAny = true;
        metrics.delivered.inc({ transport: sub.transport });
      }
      if (sentAny || !slow) state.slowSince = undefined;
      else if (state.slowSince === undefined) state.slowSince = now;
      else if (now - state.slowSince > SLOW_DROP_MS) {
        this.subscribers.delete(sub);
        metrics.dropped.inc({ transport: sub.transport });
        sub.drop();
      }
    }
  }
}
