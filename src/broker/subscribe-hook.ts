// aedes' authorizeSubscribe hook: a filter the identity may use (maySubscribe) is granted; any
// other gets the SUBACK failure code 0x80 for that filter alone (aedes turns a null subscription
// into 128), the connection stays up, and the denial is counted by reason.
import type { Client, Subscription } from 'aedes';
import { identityOf, maySubscribe } from './acl.ts';
import type { AclDenial } from './acl-audit.ts';

export type AuthorizeSubscribe = (client: Client, subscription: Subscription, callback: (error: Error | null, subscription?: Subscription | null) => void) => void;

export function createSubscribeHook(onDenied: AclDenial): AuthorizeSubscribe {
  return function authorizeSubscribe(client, subscription, callback) {
    const identity = identityOf(client);
    const decision = identity ? maySubscribe(identity, subscription.topic) : ({ allowed: false, reason: 'no_identity' } as const);
    if (decision.allowed) return callback(null, subscription);
    onDenied('subscribe', client, subscription.topic, decision.reason);
    callback(null, null);
  };
}
