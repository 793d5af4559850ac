// Session takeover: a second CONNECT with the client id of a live connection replaces it (MQTT
// 3.1.1). Here that is allowed only to the same authenticated identity, and at most once per
// `intervalMs` per client id, so two copies of one device (or one hostile client) cannot make the
// broker flap a session thousands of times a second.
import { LRUCache } from 'lru-cache';
import type { ClientIdentity } from './acl.ts';

export type TakeoverDecision = 'no_takeover' | 'allowed' | 'denied' | 'rate_limited';

export class TakeoverGuard {
  private readonly lastTakeoverMs: LRUCache<string, number>;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lastTakeoverMs = new LRUCache<string, number>({ max: 100_000 });
  }

  /** `live` is the identity of the connection holding `clientId` now (undefined: none). */
  decide(clientId: string, live: ClientIdentity | undefined, incoming: ClientIdentity): TakeoverDecision {
    if (live === undefined) return 'no_takeover';
    if (live.role !== incoming.role || live.id !== incoming.id) return 'denied';
    const now = this.now();
    const last = this.lastTakeoverMs.get(clientId);
    if (last !== undefined && now - last < this.intervalMs) return 'rate_limited';
    this.lastTakeoverMs.set(clientId, now);
    return 'allowed';
  }
}
