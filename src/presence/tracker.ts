// Records connects, disconnects, signs of life and the latest reading on each device's registry
// item, cheaply. Events only update an in-memory pending entry per device; a timer writes the
// pending entries every `flushMs`: a connect or disconnect is written on the next flush (so it
// shows within flushMs plus one write), while last-seen times and the latest reading of a device
// are written at most once per `seenIntervalMs`. A device that reconnects five times within one
// flush costs one write, a keepalive costs none. Writes run a few at a time; a failed one is retried
// on the next flush.
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import type { Reading } from '../ingest/reading.ts';
import type { SignedRequester } from '../storage/dynamodb/http-transport.ts';
import { toItem } from '../storage/item.ts';
import type { PresenceMetrics } from './metrics.ts';
import { writePresence } from './table.ts';
import type { PresenceAttributes } from './table.ts';

/** The latest reading is kept on the registry item only up to this size (JSON); larger ones as {ts, truncated}. */
export const MAX_LAST_READING_BYTES = 4096;
export const WRITE_CONCURRENCY = 4;

interface Pending {
  attributes: PresenceAttributes;
  /** A connect or disconnect is waiting: write on the next flush. */
  edge: boolean;
  /** The connection the state belongs to (condition of the write). */
  connectAt: number | undefined;
  /** The latest stored reading, turned into `attributes.lastReading` only when written (most are superseded first). */
  latest: Reading | undefined;
}

export interface PresenceOptions {
  /** Signed requests to the registry's endpoint, at most WRITE_CONCURRENCY at once (closed by the tracker's owner). */
  readonly requester: SignedRequester;
  readonly tableName: string;
  readonly replica: string;
  readonly flushMs: number;
  readonly seenIntervalMs: number;
  readonly retentionDays: number | undefined;
  readonly metrics: PresenceMetrics;
  readonly log: Logger;
  readonly now?: () => number;
}

export class PresenceTracker {
  private readonly pending = new Map<string, Pending>();
  private readonly lastWrittenAt = new Map<string, number>();
  private readonly limit = pLimit(WRITE_CONCURRENCY);
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;
  /** Devices taken out of `pending` by a flush whose write has not finished yet. */
  private writing = 0;
  private readonly now: () => number;

  constructor(private readonly o: PresenceOptions) {
    this.now = o.now ?? Date.now;
    this.timer = setInterval(() => void this.flush(false), o.flushMs).unref();
  }

  /** Devices whose changes are not in the registry yet: waiting for a flush or being written. */
  pendingDevices(): number {
    return this.pending.size + this.writing;
  }

  connected(deviceId: string, connectAt: number, sourceAddress: string | undefined): void {
    this.o.metrics.events.inc({ event: 'connect' });
    const p = this.entry(deviceId);
    Object.assign(p.attributes, { connected: true, lastConnectAt: connectAt, lastSeenAt: connectAt, replica: this.o.replica, sourceAddress });
    p.edge = true;
    p.connectAt = connectAt;
  }

  disconnected(deviceId: string, connectAt: number, reason: string): void {
    this.o.metrics.events.inc({ event: 'disconnect' });
    const at = this.now();
    const p = this.entry(deviceId);
    Object.assign(p.attributes, { connected: false, lastDisconnectAt: at, disconnectReason: reason, lastSeenAt: at, replica: this.o.replica });
    p.edge = true;
    p.connectAt = connectAt;
  }

  /** A sign of life (PINGREQ, a publish): written with the next seen-interval write. */
  seen(deviceId: string): void {
    this.entry(deviceId).attributes.lastSeenAt = this.now();
  }

  /** Stored readings (in order): the latest per device is kept for the next seen-interval write. */
  stored(readings: readonly Reading[]): void {
    const latest = new Map<string, Reading>();
    for (const r of readings) {
      const prev = latest.get(r.deviceId);
      if (!prev || r.ts >= prev.ts) latest.set(r.deviceId, r);
    }
    for (const [deviceId, r] of latest) {
      const p = this.entry(deviceId);
      const prevTs = p.latest?.ts ?? p.attributes.lastReading?.ts;
      if (typeof prevTs === 'number' && prevTs > r.ts) continue;
      p.latest = r;
      p.attributes.lastReadingAt = r.receivedAt;
      p.attributes.lastSeenAt = Math.max(p.attributes.lastSeenAt ?? 0, r.receivedAt);
    }
  }

  /** Writes what is due (`all`: everything pending, at shutdown). */
  flush(all: boolean): Promise<void> {
    if (this.flushing) return all ? this.flushing.then(() => this.flush(true)) : this.flushing;
    this.flushing = this.writeDue(all).finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush(true);
  }

  private entry(deviceId: string): Pending {
    let p = this.pending.get(deviceId);
    if (!p) {
      p = { attributes: {}, edge: false, connectAt: undefined, latest: undefined };
      this.pending.set(deviceId, p);
    }
    return p;
  }

  private async writeDue(all: boolean): Promise<void> {
    const now = this.now();
    const due: [string, Pending][] = [];
    for (const [deviceId, p] of this.pending) {
      const seenDue = now - (this.lastWrittenAt.get(deviceId) ?? 0) >= this.o.seenIntervalMs;
      if (all || p.edge || seenDue) {
        due.push([deviceId, p]);
        this.pending.delete(deviceId);
      }
    }
    for (const [deviceId, at] of this.lastWrittenAt) if (now - at > this.o.seenIntervalMs * 2) this.lastWrittenAt.delete(deviceId);
    if (due.length === 0) return;
    this.o.metrics.flushes.inc();
    this.writing += due.length;
    await Promise.all(due.map(([deviceId, p]) => this.limit(() => this.write(deviceId, p, now).finally(() => this.writing--))));
  }

  private async write(deviceId: string, p: Pending, now: number): Promise<void> {
    if (p.latest !== undefined) {
      const item = toItem(p.latest, this.o.retentionDays);
      p.attributes.lastReading = JSON.stringify(item).length <= MAX_LAST_READING_BYTES ? item : { ts: p.latest.ts, truncated: true };
      p.latest = undefined;
    }
    try {
      const applied = await writePresence(this.o.requester, this.o.tableName, deviceId, p.attributes, p.connectAt);
      this.o.metrics.writes.inc({ result: applied ? 'ok' : 'superseded' });
      this.lastWrittenAt.set(deviceId, now);
    } catch (err) {
      this.o.metrics.writes.inc({ result: 'failed' });
      this.o.log.warn({ err, deviceId }, 'presence write failed; retried on the next flush');
      // Newer events since this flush win over the failed state.
      const newer = this.pending.get(deviceId);
      this.pending.set(deviceId, newer ? { attributes: { ...p.attributes, ...newer.attributes }, edge: true, connectAt: newer.connectAt ?? p.connectAt, latest: newer.latest } : { ...p, edge: true });
    }
  }
}
