// aedes stores a persistent session's subscriptions by handing its persistence the whole SUBSCRIBE
// packet, every filter of it, once for each filter the authorizeSubscribe hook granted
// (lib/handlers/subscribe.js, storeSubscriptions). A filter the hook refused (SUBACK 0x80) was
// stored with the others: while the session was away aedes queued for it every message matching
// that filter, and delivered the queue when the session came back. A device that asked for
// devices/+/telemetry beside its own commands, with clean:false, got other devices' readings. Here
// the filters the hook granted to each connection are recorded, and the persistence is handed those
// only. (A session that comes back has its stored filters authorized again by aedes before they go
// live, so what it stores is always what its identity may hold.)
import type { Aedes, Client, Subscription } from 'aedes';
import { internalsOf } from './internals.ts';

type SubscribeCallback = (error: Error | null, subscription?: Subscription | null) => void;
type AuthorizeSubscribe = (client: Client, subscription: Subscription, callback: SubscribeCallback) => void;

/** Installs the record and the filter on `aedes` (before any client connects). */
export function storeGrantedSubscriptionsOnly(aedes: Aedes): void {
  const granted = new WeakMap<Client, Set<string>>();
  const broker = aedes as unknown as { authorizeSubscribe: AuthorizeSubscribe };
  const authorize = broker.authorizeSubscribe;
  broker.authorizeSubscribe = (client, subscription, callback) => {
    const topic = subscription.topic;
    authorize.call(aedes, client, subscription, (error, result) => {
      if (error === null && result) {
        let topics = granted.get(client);
        if (topics === undefined) granted.set(client, (topics = new Set()));
        topics.add(topic);
      }
      callback(error, result);
    });
  };
  const persistence = internalsOf(aedes).persistence as unknown as { addSubscriptions: (client: Client, subs: readonly Subscription[], ...rest: unknown[]) => unknown };
  const addSubscriptions = persistence.addSubscriptions.bind(persistence);
  persistence.addSubscriptions = (client, subs, ...rest) => {
    const topics = granted.get(client);
    return addSubscriptions(client, subs.filter((s) => topics?.has(s.topic) === true), ...rest);
  };
}
