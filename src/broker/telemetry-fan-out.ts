// After a reading is stored, aedes publishes the device's PUBLISH to its emitter for MQTT
// subscribers of the raw topic (applications on devices/+/telemetry). Mostly nobody subscribes
// there (live data goes out on $stored/... and SSE), yet every reading still paid for it on the
// broker's thread: aedes' copy of the packet, two topic-trie matches (online subscribers and
// offline sessions, the second behind a promise) and their garbage, about 1-3 µs of the 10-14 the
// broker thread spends per reading (bench/README.md, "Hot path, eighth round").
//
// The gate mirrors what the emitter's matcher holds: it counts the subscriptions that could match
// some devices/{id}/telemetry, and while there is none a telemetry PUBLISH is not handed to the
// emitter at all (it would match no one). Offline persistent sessions are aedes' persistence, not
// the emitter: once a persistent session has stored a raw-telemetry subscription the gate stays
// open for the life of the process (it cannot see cheaply when that session ends); installed before
// granted-subscriptions.ts, it sees only the filters really stored. A skipped publish also skips
// aedes' `published` hook and 'publish' event, which nothing in this service uses. In cluster mode the
// emitter is shared through Redis and subscribers on other replicas are not seen here: the gate is
// not installed and every reading is published, as before.
import type { Aedes, Client } from 'aedes';
import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import { filterMatches, internalsOf } from './internals.ts';
import { hasTelemetryShape } from './topic.ts';

type Listener = (...args: never[]) => unknown;
type Done = (err?: Error | null) => void;

const SHARE_PREFIX = '$share/';

/** Whether a subscription filter can match some `devices/{id}/telemetry` (wildcards, shared subscriptions). */
export function matchesSomeTelemetry(filter: string): boolean {
  let f = filter;
  if (f.startsWith(SHARE_PREFIX)) {
    const groupEnd = f.indexOf('/', SHARE_PREFIX.length);
    if (groupEnd < 0) return false;
    f = f.slice(groupEnd + 1);
  }
  const second = f.split('/')[1];
  const id = second === undefined || second === '+' || second === '#' ? 'x' : second;
  return filterMatches(f, `devices/${id}/telemetry`);
}

/**
 * Installs the gate on `aedes` (before any client connects; with `enabled` false, in cluster mode,
 * only the gauge, at 1): wraps its emitter's `on` and
 * `removeListener` to mirror the telemetry subscriptions, its persistence's `addSubscriptions` to
 * see persistent sessions, and `publish` to skip telemetry nobody can receive. The gauge
 * `iot_ingest_telemetry_fanout` shows whether readings are republished to MQTT subscribers.
 */
export function gateTelemetryFanOut(aedes: Aedes, registry: Registry, options: { readonly enabled: boolean }): void {
  /** The listeners of each telemetry-capable filter, as the emitter's matcher holds them. */
  const listeners = new Map<string, Set<unknown>>();
  let persistentSession = false;
  /** Whether telemetry is handed to the emitter now (someone could receive it). */
  const open = (): boolean => !options.enabled || persistentSession || listeners.size > 0;
  new Gauge({
    name: 'iot_ingest_telemetry_fanout',
    help: 'Whether stored readings are republished to MQTT subscribers of the raw telemetry topic (1: some subscription could receive them, or cluster mode; 0: none could, the broker skips that step).',
    registers: [registry],
    collect() {
      this.set(open() ? 1 : 0);
    },
  });
  if (!options.enabled) return;

  const { mq, persistence } = internalsOf(aedes);

  const emitter = mq as unknown as { on: (topic: string, notify: Listener, done?: () => void) => unknown; removeListener: (topic: string, notify: Listener, done?: () => void) => unknown; removeAllListeners?: (topic: string, done?: () => void) => unknown };
  const on = emitter.on.bind(mq);
  const removeListener = emitter.removeListener.bind(mq);
  emitter.on = (topic, notify, done) => {
    if (matchesSomeTelemetry(topic)) {
      let set = listeners.get(topic);
      if (set === undefined) listeners.set(topic, (set = new Set()));
      set.add(notify);
    }
    return on(topic, notify, done);
  };
  emitter.removeListener = (topic, notify, done) => {
    const set = listeners.get(topic);
    if (set !== undefined && set.delete(notify) && set.size === 0) listeners.delete(topic);
    return removeListener(topic, notify, done);
  };
  if (typeof emitter.removeAllListeners === 'function') {
    const removeAll = emitter.removeAllListeners.bind(mq);
    emitter.removeAllListeners = (topic, done) => {
      listeners.delete(topic);
      return removeAll(topic, done);
    };
  }

  const store = persistence as unknown as { addSubscriptions: (client: Client, subs: readonly { topic: string }[], ...rest: unknown[]) => unknown };
  const addSubscriptions = store.addSubscriptions.bind(persistence);
  store.addSubscriptions = (client, subs, ...rest) => {
    if (subs.some((s) => matchesSomeTelemetry(s.topic))) persistentSession = true;
    return addSubscriptions(client, subs, ...rest);
  };

  const broker = aedes as unknown as { publish: (packet: { topic: string; retain?: boolean }, client: Client | Done | null | undefined, done?: Done) => void };
  const publish = broker.publish.bind(aedes);
  broker.publish = (packet, client, done) => {
    if (!open() && typeof client !== 'function' && packet.retain !== true && hasTelemetryShape(packet.topic)) {
      done?.(null);
      return;
    }
    publish(packet, client, done);
  };
}
