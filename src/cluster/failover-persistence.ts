// aedes-persistence-redis with a way out: while Redis is unreachable, every persistence call goes to
// an in-memory aedes-persistence instead of waiting for Redis (or failing the CONNECT it belongs
// to). Devices keep connecting and publishing on this node; what is lost meanwhile is only what
// needs other nodes (sessions and queued messages written during the outage stay on this node).
// Subscription lookups for a publish are never routed: aedes-persistence-redis answers them from
// its in-memory trie, without a Redis round trip.
import type { Logger } from 'pino';

/** Calls that touch Redis and may fall back to memory. */
const ROUTED = new Set([
  'storeRetained', 'createRetainedStream', 'createRetainedStreamCombi', 'addSubscriptions', 'removeSubscriptions',
  'subscriptionsByClient', 'countOffline', 'cleanSubscriptions', 'outgoingEnqueue', 'outgoingEnqueueCombi',
  'outgoingUpdate', 'outgoingClearMessageId', 'outgoingStream', 'incomingStorePacket', 'incomingGetPacket',
  'incomingDelPacket', 'putWill', 'getWill', 'delWill', 'streamWill',
]);

type AnyFn = (...args: unknown[]) => unknown;
type Persistence = Record<string, unknown> & { setup(broker: unknown): Promise<void> };

export interface FailoverPersistenceOptions {
  readonly redis: Persistence;
  readonly memory: Persistence;
  readonly isUp: () => boolean;
  /** Called once per call served from memory. */
  readonly onFallback: () => void;
  readonly log: Logger;
}

export function createFailoverPersistence(o: FailoverPersistenceOptions): Persistence {
  const { redis, memory } = o;
  const setup = async function setup(broker: unknown): Promise<void> {
    await memory.setup(broker);
    await redis.setup(broker);
  };
  return new Proxy(redis, {
    get(target, prop, receiver): unknown {
      if (prop === 'setup') return setup;
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const fn = (value as AnyFn).bind(target);
      if (typeof prop !== 'string' || !ROUTED.has(prop)) return fn;
      const fallback = (memory[prop] as AnyFn).bind(memory);
      return (...args: unknown[]): unknown => {
        if (!o.isUp()) {
          o.onFallback();
          return fallback(...args);
        }
        const result = fn(...args);
        if (result instanceof Promise) {
          return result.catch((err: unknown) => {
            o.onFallback();
            o.log.warn({ err, operation: prop }, 'Redis persistence call failed; served from this node\'s memory');
            return fallback(...args);
          });
        }
        return result;
      };
    },
  });
}
