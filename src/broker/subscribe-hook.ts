// aedes' authorizeSubscribe: what a client may subscribe to is the role contract of acl.ts. A
// refused filter gets SUBACK 0x80 (the connection stays open) and is counted by reason. Live
// $stored/... subscriptions are granted QoS 0: they are a live view that skips, never a queue.
import type { Client, Subscription } from 'aedes';
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import { maySubscribe } from './acl.ts';
import { effectiveIdentity } from './identity.ts';

export type AuthorizeSubscribe = (client: Client, sub: Subscription, callback: (err: Error | null, sub?: Subscription | null) => void) => void;

export function createSubscribeHook(registry: Registry): AuthorizeSubscribe {
  const refused = new Counter({
    name: 'iot_ingest_subscribe_refused_total',
    help: 'Subscriptions refused with SUBACK 0x80, by reason (topic_invalid, not_own_topic, role).',
    labelNames: ['reason'],
    registers: [registry],
  });
  return (client, sub, callback) => {
    const identity = effectiveIdentity(client);
    const decision = identity ? maySubscribe(identity, sub.topic) : ({ allowed: false, reason: 'role' } as const);
    if (!decision.allowed) {
      refused.inc({ reason: decision.reason });
      callback(null, null);
      return;
    }
    const qos = sub.topic.startsWith('$stored/') ? 0 : Math.min(sub.qos, 1);
    callback(null, { ...sub, qos: qos as Subscription['qos'] });
  };
}
