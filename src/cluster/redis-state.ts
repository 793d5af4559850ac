// Cluster mode (--cluster redis://...): the MQTT state replicas must share lives in Redis, through
// aedes' own packages: mqemitter-redis carries every publish to the other nodes (so a subscriber on
// one replica gets what is published on another) and aedes-persistence-redis keeps subscriptions,
// persistent sessions and their queued QoS 1 messages (so a device may come back on any replica).
//
// Redis is never on the ingestion path's critical route: publishes go to Redis with a short command
// timeout and, while it is unreachable, are delivered on this node only; persistence calls fall
// back to memory (failover-persistence.ts). The DynamoDB path does not notice. The outage is logged
// once per transition, shown by iot_ingest_cluster_up and counted by
// iot_ingest_cluster_local_fallbacks_total; /readyz stays 200 (ingestion works) and says so.
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import memoryModule from 'aedes-persistence';
import redisPersistence from 'aedes-persistence-redis';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import { IngestError } from '../errors.ts';
import { createFailoverPersistence } from './failover-persistence.ts';

// A CommonJS factory whose declarations describe an ES default export: the default import is the factory.
const memoryPersistence = memoryModule as unknown as () => unknown;

export interface ClusterState {
  readonly mq: unknown;
  readonly persistence: unknown;
  /** True while every Redis connection is ready. */
  isUp(): boolean;
  /** For /readyz: whether cross-node delivery works and what happens while it does not. */
  detail(): { readonly redis: 'up' | 'down'; readonly crossNodeDelivery: boolean; readonly since: string };
  close(): Promise<void>;
}

export interface ClusterStateOptions {
  readonly url: string;
  readonly registry: Registry;
  readonly log: Logger;
  /** How long start-up waits for Redis before failing. */
  readonly connectTimeoutMs?: number;
}

type Emit = (msg: { topic: string }, done?: (err?: Error) => void) => void;

export async function connectClusterState(o: ClusterStateOptions): Promise<ClusterState> {
  const { log } = o;
  const retryStrategy = (times: number): number => Math.min(100 * 2 ** Math.min(times, 5), 2_000);
  const base: RedisOptions = { retryStrategy, connectionName: 'iot-ingest', lazyConnect: true };
  // Subscriptions wait for Redis (bounded by the number of topic filters) and are re-sent on reconnect;
  // publishes and persistence calls fail fast so that nothing on this node waits for Redis.
  const subConn = new Redis(o.url, { ...base, maxRetriesPerRequest: null });
  const pubConn = new Redis(o.url, { ...base, enableOfflineQueue: false, commandTimeout: 1_000, maxRetriesPerRequest: 0 });
  const dbConn = new Redis(o.url, { ...base, enableOfflineQueue: false, commandTimeout: 2_000, maxRetriesPerRequest: 0 });
  const connections = [subConn, pubConn, dbConn];
  let up = false;
  let since = new Date();
  const fallbacks = new Counter({
    name: 'iot_ingest_cluster_local_fallbacks_total',
    help: 'Cluster mode: operations served by this node alone because Redis was unreachable (publish: delivered on this node only; persistence: kept in this node\'s memory).',
    labelNames: ['operation'] as const,
    registers: [o.registry],
  });
  for (const operation of ['publish', 'persistence']) fallbacks.inc({ operation }, 0);
  new Gauge({
    name: 'iot_ingest_cluster_up',
    help: 'Cluster mode: 1 while this node reaches Redis (cross-node delivery and shared sessions work), 0 while it does not.',
    registers: [o.registry],
    collect() {
      this.set(isUp() ? 1 : 0);
    },
  });
  const isUp = (): boolean => connections.every((c) => c.status === 'ready');
  const watch = (): void => {
    const now = isUp();
    if (now === up) return;
    up = now;
    since = new Date();
    if (now) log.info('Redis reachable: cross-node delivery and shared sessions restored');
    else log.error('Redis unreachable: ingestion continues; publishes are delivered on this node only and sessions kept in memory until it is back');
  };
  for (const c of connections) {
    c.on('ready', watch);
    c.on('close', watch);
    c.on('error', (err: Error) => log.debug({ err }, 'Redis connection error'));
  }

  try {
    await withTimeout(Promise.all(connections.map((c) => c.connect())), o.connectTimeoutMs ?? 15_000);
  } catch (err) {
    for (const c of connections) c.disconnect();
    throw new IngestError('CONFIG_INVALID', `--cluster / CLUSTER_REDIS_URL: Redis not reachable at ${redact(o.url)} (${(err as Error).message})`, { cause: err });
  }
  up = isUp();
  log.info({ redis: redact(o.url) }, 'cluster mode: sharing MQTT delivery and sessions through Redis');

  const mq = MQEmitterRedis({ subConn, pubConn });
  // mqemitter-redis re-emits connection errors on `state`; unheard, they would end the process.
  (mq as unknown as { state: NodeJS.EventEmitter }).state.on('error', (err: Error) => log.debug({ err }, 'Redis emitter error'));
  const toRedis = mq.emit.bind(mq) as Emit;
  const localOnly = (mq as unknown as { _emit: Emit })._emit.bind(mq);
  // A publish reaches this node's subscribers through Redis like everyone else's; when Redis cannot
  // take it, it is delivered here directly so that the PUBACK and local subscribers never wait.
  (mq as unknown as { emit: Emit }).emit = (msg, done) => {
    if (pubConn.status !== 'ready') {
      fallbacks.inc({ operation: 'publish' });
      return localOnly(msg, done);
    }
    toRedis(msg, (err) => {
      if (!err) return done?.();
      fallbacks.inc({ operation: 'publish' });
      localOnly(msg, done);
    });
  };
  // While Redis is away a new subscription is queued for it (and re-sent on reconnect); the SUBACK does not wait.
  const subscribe = mq.on.bind(mq);
  (mq as unknown as { on: typeof mq.on }).on = (topic, listener, done) => {
    if (subConn.status === 'ready') return subscribe(topic, listener, done);
    subscribe(topic, listener);
    if (done) setImmediate(done);
    return mq;
  };

  const persistence = createFailoverPersistence({
    redis: redisPersistence({ conn: dbConn }) as never,
    memory: memoryPersistence() as never,
    isUp: () => dbConn.status === 'ready',
    onFallback: () => fallbacks.inc({ operation: 'persistence' }),
    log,
  });

  return {
    mq,
    persistence,
    isUp,
    detail: () => ({ redis: up ? 'up' : 'down', crossNodeDelivery: up, since: since.toISOString() }),
    close: async () => {
      // aedes closes the emitter (mq.close quits subConn and pubConn) and persistence.destroy the db connection.
      for (const c of connections) if (c.status !== 'end') c.disconnect();
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e as Error); });
  });
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
