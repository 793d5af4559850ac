// The parts of an aedes broker that its type declarations leave out but its documented
// collaborators expose: the emitter (mqemitter, or mqemitter-redis in cluster mode), the
// persistence and the map of connected clients. Cast once here instead of at every use.
import type { Aedes, Client } from 'aedes';

export interface EmitterPacket {
  readonly topic: string;
  readonly payload: Buffer | string;
  readonly [key: string]: unknown;
}

export interface BrokerEmitter {
  emit(packet: EmitterPacket, callback?: (err?: Error) => void): void;
  on(topic: string, listener: (packet: EmitterPacket, done: () => void) => void, callback?: () => void): void;
  removeListener(topic: string, listener: (packet: EmitterPacket, done: () => void) => void, callback?: () => void): void;
}

export interface AckedPacket {
  readonly cmd: string;
  readonly messageId?: number;
}

export interface BrokerPersistence {
  outgoingClearMessageId(client: Client, packet: AckedPacket): Promise<unknown>;
}

export interface BrokerInternals {
  readonly mq: BrokerEmitter;
  readonly persistence: BrokerPersistence;
  readonly clients: Record<string, Client>;
}

export function internalsOf(aedes: Aedes): BrokerInternals {
  return aedes as unknown as BrokerInternals;
}

/** Whether an MQTT topic filter (with + and #) matches a topic. */
export function filterMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The filters a client is subscribed to. */
export function subscriptionsOf(client: Client): string[] {
  return Object.keys((client as unknown as { subscriptions?: Record<string, unknown> }).subscriptions ?? {});
}
