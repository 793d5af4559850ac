// Two replicas of the service in cluster mode (--cluster redis://...) over one Redis and one
// dynalite, both spawned as processes, with an application credential; and the MQTT clients a test
// opens on them, ended with the pair. The set-up of the cross-replica tests.
import { connectAsync } from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { startDynalite } from './dynamo-servers.ts';
import type { DynamoServer } from './dynamo-servers.ts';
import { startRedis } from './scale-servers.ts';
import type { RedisServer } from './scale-servers.ts';
import { spawnService } from './service.ts';
import type { SpawnedService } from './service.ts';

/** The application credential both replicas accept. */
export const CLUSTER_APP = { username: 'ops', password: 's3cret-ops' } as const;

export const mqttUrl = (s: SpawnedService): string => `mqtt://127.0.0.1:${s.mqttPort}`;
export const httpUrl = (s: SpawnedService): string => `http://127.0.0.1:${s.httpPort}`;

export interface ClusterPair {
  readonly redis: RedisServer;
  readonly dynamo: DynamoServer;
  readonly a: SpawnedService;
  readonly b: SpawnedService;
  /** An MQTT client on `s` (no reconnects), ended by stop(). */
  open(s: SpawnedService, options: IClientOptions): Promise<MqttClient>;
  /** A client the test connected itself, to be ended by stop() too. */
  track(c: MqttClient): MqttClient;
  /** Ends the clients, kills both replicas, stops Redis and dynalite. */
  stop(): Promise<void>;
}

/** Starts the pair; tables are `table` and `table-<kind>`, plus `extraArgs` for both replicas. */
export async function startClusterPair(table: string, extraArgs: readonly string[] = []): Promise<ClusterPair> {
  const clients: MqttClient[] = [];
  const started: { redis?: RedisServer; dynamo?: DynamoServer; replicas: SpawnedService[] } = { replicas: [] };
  const stop = async (): Promise<void> => {
    for (const c of clients) c.end(true);
    for (const r of started.replicas) r.proc.kill('SIGKILL');
    await started.redis?.stop();
    await started.dynamo?.stop();
  };
  try {
    const redis = (started.redis = await startRedis());
    const dynamo = (started.dynamo = await startDynalite());
    const replica = async (): Promise<SpawnedService> => {
      const s = await spawnService([
        '--mqtt-host', '127.0.0.1', '--mqtt-port', '0', '--http-host', '127.0.0.1', '--http-port', '0',
        '--dynamodb-endpoint', dynamo.endpoint, '--table', table, '--dlq-table', `${table}-dlq`, ...extraArgs,
        '--cluster', redis.url, '--application', `${CLUSTER_APP.username}:${CLUSTER_APP.password}`,
      ]);
      started.replicas.push(s);
      return s;
    };
    const a = await replica();
    const b = await replica();
    return {
      redis,
      dynamo,
      a,
      b,
      async open(s, options) {
        const c = await connectAsync(mqttUrl(s), { reconnectPeriod: 0, ...options });
        clients.push(c);
        return c;
      },
      track(c) {
        clients.push(c);
        return c;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
