// The credential cache between CONNECT and the devices table, so that a reconnect storm of 10,000
// devices is neither 10,000 reads nor 10,000 scrypt runs:
// - records: deviceId -> its registry record (or "no such device"), bounded LRU, short TTL. Misses
//   arriving in the same turn of the event loop are read together (BatchGetItem, 100 per request)
//   and concurrent misses of one id share one read. The TTL bounds how long this process can act on
//   a stale record: a revocation done elsewhere is seen by new CONNECTs within `ttlMs`. At most
//   MAX_READS_IN_FLIGHT reads run at once; misses arriving meanwhile wait and go in the next batch,
//   so an idle cache reads at once and a storm reads in large batches.
// - verified: digest(deviceId, stored hash, presented secret) -> whether they matched, bounded LRU.
//   No TTL: the stored hash is part of the key, so a rotation or a new secret misses by itself.
//   The secret itself is never kept; scrypt runs on the libuv pool with a bounded queue.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { AuthMetrics } from '../broker/auth-metrics.ts';
import { acceptedHashes } from './device-record.ts';
import type { DeviceRecord } from './device-record.ts';
import type { DeviceRegistry } from './registry.ts';
import { verifySecret } from './secrets.ts';

export interface CredentialCacheOptions {
  readonly registry: Pick<DeviceRegistry, 'getMany'>;
  readonly ttlMs: number;
  readonly maxEntries: number;
  /** scrypt checks queued or running at most; beyond it a CONNECT is refused as busy. */
  readonly maxPendingHashChecks: number;
  readonly metrics: Pick<AuthMetrics, 'cacheLookups' | 'registryRequests' | 'hashChecks'>;
  readonly now?: () => number;
}

export type SecretCheck =
  | { readonly ok: true; readonly record: DeviceRecord; readonly matchedHash: string }
  | { readonly ok: false; readonly reason: 'unknown_device' | 'revoked' | 'bad_secret' | 'busy' };

interface Entry {
  readonly record: DeviceRecord | null;
}

const BATCH_GET_KEYS = 100;
const MAX_READS_IN_FLIGHT = 2;

export class CredentialCache {
  private readonly records: LRUCache<string, Entry>;
  private readonly verified: LRUCache<string, boolean>;
  private readonly inflight = new Map<string, Promise<DeviceRecord | undefined>>();
  private queued = new Map<string, { resolve: (r: DeviceRecord | undefined) => void; reject: (e: unknown) => void }[]>();
  private flushScheduled = false;
  private readsInFlight = 0;
  private pendingHashes = 0;
  private readonly now: () => number;

  constructor(private readonly options: CredentialCacheOptions) {
    this.now = options.now ?? Date.now;
    this.records = new LRUCache<string, Entry>({ max: options.maxEntries, ttl: options.ttlMs, ttlAutopurge: false });
    this.verified = new LRUCache<string, boolean>({ max: options.maxEntries });
  }

  get size(): { records: number; verified: number; pendingHashChecks: number } {
    return { records: this.records.size, verified: this.verified.size, pendingHashChecks: this.pendingHashes };
  }

  /** The device's record, from the cache when fresh, else read (batched with other misses). */
  async lookup(deviceId: string): Promise<DeviceRecord | undefined> {
    const entry = this.records.get(deviceId);
    if (entry) {
      this.options.metrics.cacheLookups.inc({ result: 'hit' });
      return entry.record ?? undefined;
    }
    this.options.metrics.cacheLookups.inc({ result: 'miss' });
    const running = this.inflight.get(deviceId);
    if (running) return running;
    const read = new Promise<DeviceRecord | undefined>((resolve, reject) => {
      const waiters = this.queued.get(deviceId) ?? [];
      waiters.push({ resolve, reject });
      this.queued.set(deviceId, waiters);
      this.scheduleFlush();
    });
    this.inflight.set(deviceId, read);
    const done = (): void => {
      this.inflight.delete(deviceId);
    };
    read.then(done, done);
    return read;
  }

  /** Checks a presented secret against the device's current (and, in a rotation overlap, previous) hash. */
  async check(deviceId: string, secret: Buffer): Promise<SecretCheck> {
    const record = await this.lookup(deviceId);
    if (!record) return { ok: false, reason: 'unknown_device' };
    if (record.status !== 'active') return { ok: false, reason: 'revoked' };
    for (const hash of acceptedHashes(record, this.now())) {
      const key = createHash('sha256').update(deviceId).update('\0').update(hash).update('\0').update(secret).digest('base64url');
      let matched = this.verified.get(key);
      if (matched === undefined) {
        if (this.pendingHashes >= this.options.maxPendingHashChecks) return { ok: false, reason: 'busy' };
        this.pendingHashes++;
        this.options.metrics.hashChecks.inc();
        try {
          matched = await verifySecret(secret.toString('utf8'), hash);
        } finally {
          this.pendingHashes--;
        }
        this.verified.set(key, matched);
      }
      if (matched) return { ok: true, record, matchedHash: hash };
    }
    return { ok: false, reason: 'bad_secret' };
  }

  /** Forgets a device's record (a revocation or rotation done in this process takes effect at once). */
  invalidate(deviceId: string): void {
    this.records.delete(deviceId);
  }

  /** Reads `ids` from the table now and refreshes their entries (the revocation sweep). */
  async reload(ids: readonly string[]): Promise<Map<string, DeviceRecord>> {
    const found = await this.read(ids);
    for (const id of ids) this.records.set(id, { record: found.get(id) ?? null });
    return found;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.queued.size === 0 || this.readsInFlight >= MAX_READS_IN_FLIGHT) return;
    this.flushScheduled = true;
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    const batch = this.queued;
    this.queued = new Map();
    this.flushScheduled = false;
    const ids = [...batch.keys()];
    this.readsInFlight++;
    try {
      const found = await this.read(ids);
      for (const id of ids) {
        const record = found.get(id);
        this.records.set(id, { record: record ?? null });
        for (const w of batch.get(id) ?? []) w.resolve(record);
      }
    } catch (err) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
    } finally {
      this.readsInFlight--;
      this.scheduleFlush();
    }
  }

  private async read(ids: readonly string[]): Promise<Map<string, DeviceRecord>> {
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += BATCH_GET_KEYS) chunks.push(ids.slice(i, i + BATCH_GET_KEYS));
    const maps = await Promise.all(
      chunks.map((chunk) => {
        this.options.metrics.registryRequests.inc();
        return this.options.registry.getMany(chunk);
      }),
    );
    const all = new Map<string, DeviceRecord>();
    for (const m of maps) for (const [k, v] of m) all.set(k, v);
    return all;
  }
}
