// Wires the pipeline together: embedded or external DynamoDB, tables, writer, batcher, dead-letter,
// broker, HTTP; and takes it apart again in a fixed order on stop.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { commandRoutes } from './commands/http.ts';
import { CommandDispatcher } from './commands/dispatcher.ts';
import { createCommandMetrics } from './commands/metrics.ts';
import { CommandService } from './commands/service.ts';
import { CommandsTable } from './commands/table.ts';
import { consoleRoutes } from './http/console.ts';
import { deadLetterRoutes } from './http/dead-letters.ts';
import type { Route } from './http/route.ts';
import { internalsOf } from './broker/internals.ts';
import { createForwardGuard } from './live/forward-guard.ts';
import { LiveHub } from './live/hub.ts';
import { createLiveMetrics } from './live/metrics.ts';
import { attachMqttLive } from './live/mqtt-subscribers.ts';
import { sseRoutes } from './live/sse.ts';
import { tapStored } from './live/stored-tap.ts';
import { attachPresence } from './presence/broker-events.ts';
import type { PresenceHooks } from './presence/broker-events.ts';
import { deviceRoutes } from './presence/http.ts';
import { createPresenceMetrics } from './presence/metrics.ts';
import { PresenceTracker, WRITE_CONCURRENCY as PRESENCE_WRITE_CONCURRENCY } from './presence/tracker.ts';
import { startBroker } from './broker/server.ts';
import type { RunningBroker } from './broker/server.ts';
import type { ListenerName } from './broker/limits/limit-metrics.ts';
import type { DeviceAllowed } from './broker/auth/mtls.ts';
import { createPublishHook } from './broker/publish-hook.ts';
import { createBrokerSecurity } from './broker/security.ts';
import type { BrokerSecurity } from './broker/security.ts';
import { telemetryTopic } from './broker/topic.ts';
import { bindHosts, hasAnonymousListener, isLoopback } from './config/schema.ts';
import type { ServeConfig } from './config/schema.ts';
import { IngestError } from './errors.ts';
import { createHttpGuard, resolveApiToken } from './http/auth.ts';
import { startHttp } from './http/server.ts';
import { DeviceRegistry } from './identity/registry.ts';
import type { RunningHttp } from './http/server.ts';
import { Batcher } from './ingest/batcher.ts';
import { DeadLetterWriter } from './ingest/dead-letter.ts';
import { DEAD_LETTER_REASONS, INVALID_REASONS } from './ingest/reading.ts';
import { createMetrics } from './metrics/registry.ts';
import type { Metrics } from './metrics/registry.ts';
import { createDynamoClients } from './storage/client.ts';
import { startEmbeddedDynamo } from './storage/embedded.ts';
import type { EmbeddedDynamo } from './storage/embedded.ts';
import { startStoreHealth } from './storage/store-health.ts';
import type { StoreHealth } from './storage/store-health.ts';
import { ensureServiceTables } from './service-tables.ts';
import type { TelemetryStore } from './storage/telemetry-store.ts';
import { createThreadedTransport } from './storage/worker-store.ts';
import { DynamoDbSink } from './storage/dynamodb/sink.ts';
import { createHttpTransport, lazySignedRequester } from './storage/dynamodb/http-transport.ts';
import type { BatchTransport } from './storage/dynamodb/transport.ts';
import { transportFromStore } from './storage/dynamodb/transport.ts';
import type { ReadingSink } from './ingest/sink.ts';
import { toStoreError } from './storage/errors.ts';
import { retry } from './retry.ts';
import { connectClusterState } from './cluster/redis-state.ts';
import type { ClusterState } from './cluster/redis-state.ts';

export const VERSION = '0.1.0';

export interface ServiceDeps {
  readonly log: Logger;
  readonly env?: NodeJS.ProcessEnv;
  /** Replaces the DynamoDB telemetry store (benchmarks); tables and dead-letter still use DynamoDB. */
  readonly store?: TelemetryStore;
  /** Replaces the whole telemetry sink (a file, a fan-out); the broker and the batcher do not change. */
  readonly sink?: ReadingSink;
  /** Registry check for mtls devices (exists, not revoked); the device registry provides it. */
  readonly deviceAllowed?: DeviceAllowed;
}

export interface RunningService {
  readonly mqttPort: number;
  /** Port of each enabled MQTT listener (tcp, tls, ws, wss). */
  readonly mqttPorts: Readonly<Partial<Record<ListenerName, number>>>;
  readonly httpPort: number;
  readonly dynamodbEndpoint: string | undefined;
  readonly metrics: Metrics;
  isReady(): boolean;
  /** Re-reads the TLS certificate files (SIGHUP); live connections stay. Throws if a file is bad. */
  reloadTls(): void;
  /** What /readyz shows beside the status (cluster mode: whether cross-node delivery works). */
  readinessDetail(): Record<string, unknown>;
  /** Graceful stop: not ready, stop accepting, flush, finish writes, close. Idempotent. */
  stop(): Promise<void>;
}

export async function startService(config: ServeConfig, deps: ServiceDeps): Promise<RunningService> {
  const log = deps.log;
  const metrics = createMetrics({ invalidReasons: INVALID_REASONS, deadLetterReasons: DEAD_LETTER_REASONS });
  metrics.buildInfo.set({ version: VERSION, ack_mode: config.ackMode }, 1);
  metrics.ready.set(0);
  let ready = false;
  let embedded: EmbeddedDynamo | undefined;
  let http: RunningHttp | undefined;
  let broker: RunningBroker | undefined;
  let security: BrokerSecurity | undefined;
  const hosts = bindHosts(config);
  const apiToken = resolveApiToken(config);
  if (config.allowAnonymousRemote && ((hasAnonymousListener(config) && !isLoopback(hosts.mqttHost)) || (apiToken === undefined && !isLoopback(hosts.httpHost)))) {
    log.warn({ mqttHost: hosts.mqttHost, httpHost: hosts.httpHost, auth: config.auth, apiToken: apiToken !== undefined }, '--allow-anonymous-remote: listeners without credentials accept clients from the network (anyone who can reach them may publish as any device or read the API)');
  }
  let health: StoreHealth | undefined;
  const isReady = (): boolean => ready && (health?.isUp() ?? false);
  let cluster: ClusterState | undefined;
  const readinessDetail = (): Record<string, unknown> => ({
    store: health?.isUp() === false ? 'unreachable' : health ? 'up' : 'starting',
    ...(embedded ? { embeddedStore: { endpoint: embedded.endpoint, pid: embedded.pid() ?? null, restarts: embedded.restarts() } } : {}),
    ...(cluster ? { cluster: cluster.detail() } : {}),
  });

  let endpoint = config.dynamodbEndpoint;
  if (endpoint === undefined && config.embedded) {
    embedded = await startEmbeddedDynamo({
      port: config.embeddedPort,
      dataDir: config.dataDir,
      log: log.child({ component: 'embedded-dynamodb' }),
      onDown: () => health?.markDown('the embedded store process died'),
      onRestarted: () => void health?.restarted(),
    });
    endpoint = embedded.endpoint;
  }
  const connection = { endpoint, region: config.region, maxSockets: config.writeConcurrency + 8, requestTimeoutMs: config.requestTimeoutMs };
  const clients = createDynamoClients(connection, deps.env ?? {});
  const replica = config.replicaId ?? `${hostname()}:${process.pid}`;
  // Feature routes are added once their parts exist; /healthz and /readyz answer meanwhile.
  const routes: Route[] = [];
  const live: LiveHub = new LiveHub({
    retentionDays: config.retentionDays,
    maxBufferedBytes: config.liveMaxBufferedBytes,
    metrics: createLiveMetrics(metrics.registry, (): { sse: number; mqtt: number } => ({ sse: live.count('sse'), mqtt: live.count('mqtt') })),
  });
  const presenceRequester = lazySignedRequester({ ...connection, maxSockets: PRESENCE_WRITE_CONCURRENCY }, deps.env ?? {});
  const presence: PresenceTracker = new PresenceTracker({
    requester: presenceRequester,
    tableName: config.devicesTableName,
    replica,
    flushMs: config.presenceFlushMs,
    seenIntervalMs: config.presenceSeenIntervalMs,
    retentionDays: config.retentionDays,
    metrics: createPresenceMetrics(metrics.registry, (): number => presence.pendingDevices()),
    log: log.child({ component: 'presence' }),
  });
  let dispatcher: CommandDispatcher | undefined;
  let presenceHooks: PresenceHooks | undefined;
  let sink: ReadingSink | undefined;
  try {
    http = await startHttp({
      routes,
      host: hosts.httpHost,
      port: config.httpPort,
      registry: metrics.registry,
      guard: createHttpGuard(apiToken, config.metricsAuth, metrics.registry),
      isReady,
      readinessDetail,
      doc: clients.doc,
      tableName: config.tableName,
      log: log.child({ component: 'http' }),
    });
    const tableLog = log.child({ component: 'tables' });
    // DynamoDB may come up after the service (compose, a restarting endpoint): wait for it, not ready meanwhile.
    await untilReachable(tableLog, async () => {
      await ensureServiceTables(clients.client, config, { create: config.createTable, retentionDays: config.retentionDays, log: tableLog });
    });
    security = createBrokerSecurity(config, { deviceAllowed: deps.deviceAllowed, registry: new DeviceRegistry(clients.doc, config.devicesTableName), promRegistry: metrics.registry, log: log.child({ component: 'auth' }) });
    const brokerSecurity = security;
    health = startStoreHealth({
      client: clients.client,
      tableName: config.tableName,
      probeIntervalMs: config.storeProbeIntervalMs,
      probeTimeoutMs: config.requestTimeoutMs,
      registry: metrics.registry,
      log: log.child({ component: 'store-health' }),
    });

    if (deps.sink) sink = deps.sink;
    else {
      const transport: BatchTransport = deps.store
        ? transportFromStore(deps.store)
        : config.writerThread
          ? createThreadedTransport(connection, config.tableName, deps.env ?? {})
          : await createHttpTransport(connection, config.tableName, deps.env ?? {});
      sink = new DynamoDbSink(transport, metrics, { retentionDays: config.retentionDays, writeTimeoutMs: config.writeTimeoutMs, slowRequestMs: config.slowWriteMs }, log.child({ component: 'writer' }));
    }
    // Stored readings go to the live tail and to presence (latest reading), in the order stored.
    const readingSink = tapStored(sink, (readings) => {
      live.publish(readings);
      presence.stored(readings);
    });
    const deadLetter = new DeadLetterWriter(
      clients.doc,
      { tableName: config.dlqTableName, retentionDays: config.retentionDays, maxInflight: config.deadLetterMaxInflight, retryBudgetMs: config.writeTimeoutMs },
      metrics,
      log.child({ component: 'dead-letter' }),
    );
    // A reading DynamoDB refuses is dead-lettered on its own: the payload is that reading as JSON
    // (replaying it stores just it), with the client and QoS of the message it came in.
    const batcher = new Batcher(config, readingSink, metrics, (reading, message, origin) =>
      deadLetter.write({
        deviceId: reading.deviceId,
        topic: telemetryTopic(reading.deviceId),
        clientId: origin?.clientId ?? null,
        reason: 'rejected_by_store',
        errorMessage: message,
        payload: Buffer.from(JSON.stringify({ ts: reading.ts, ...reading.attributes })),
        receivedAt: reading.receivedAt,
        qos: origin?.qos ?? 1,
      }).settled,
    );
    metrics.addSampler(() => metrics.ready.set(isReady() ? 1 : 0));
    if (config.clusterRedisUrl !== undefined) {
      cluster = await connectClusterState({ url: config.clusterRedisUrl, registry: metrics.registry, log: log.child({ component: 'cluster' }) });
    }
    const forwardGuard = createForwardGuard(config.liveMaxBufferedBytes, live.metrics);
    const commandMetrics = createCommandMetrics(metrics.registry, () => dispatcher?.inflightCount() ?? 0);
    const commandsTable = new CommandsTable(clients.doc, config.commandsTableName, () => commandMetrics.tableWrites.inc());
    const commands = new CommandService(commandsTable, (deviceId) => dispatcher?.announce(deviceId), commandMetrics);
    broker = await startBroker({
      config: { ...config, mqttHost: hosts.mqttHost },
      metrics,
      log: log.child({ component: 'broker' }),
      authenticate: brokerSecurity.authenticate,
      authorizeSubscribe: brokerSecurity.authorizeSubscribe,
      proxyProtocol: config.proxyProtocol,
      ...(cluster ? { shared: { mq: cluster.mq, persistence: cluster.persistence } } : {}),
      authorizeForward: (client, packet) => {
        const allowed = dispatcher ? dispatcher.forward(client, packet) : packet;
        return allowed && forwardGuard(client, allowed);
      },
      onDisconnect: (client, reason) => presenceHooks?.onDisconnect(client, reason),
      authorizePublish: (markDisconnectReason, rateStep, held) =>
        createPublishHook({ ackMode: config.ackMode, limits: config, batcher, deadLetter, metrics, markDisconnectReason, rateStep, held, commands, onDenied: brokerSecurity.onPublishDenied }),
    });
    brokerSecurity.attach(broker.aedes, broker.markDisconnectReason);
    dispatcher = new CommandDispatcher({ aedes: broker.aedes, table: commandsTable, metrics: commandMetrics, replica, log: log.child({ component: 'commands' }) });
    dispatcher.attach();
    presenceHooks = attachPresence(broker.aedes, presence);
    attachMqttLive(broker.aedes, live);
    // Cluster mode: stored readings reach live subscribers on every replica through the shared emitter.
    if (cluster) live.shareThrough(internalsOf(broker.aedes).mq);
    routes.push(
      ...commandRoutes(commands),
      ...sseRoutes({ hub: live, metrics: live.metrics, maxSubscribers: config.liveMaxSubscribers, maxEventsPerSecond: config.liveStreamMaxEventsPerSecond }),
      ...deviceRoutes(clients.doc, config.devicesTableName, config.tableName),
      ...deadLetterRoutes(clients.doc, config.dlqTableName),
      ...consoleRoutes(),
    );
    ready = true;
    log.info({ mqttPort: broker.port, mqttPorts: broker.ports, httpPort: http.port, mqttHost: hosts.mqttHost, httpHost: hosts.httpHost, auth: config.auth, dynamodbEndpoint: endpoint ?? 'aws', table: config.tableName, ackMode: config.ackMode }, 'iot-ingest ready');

    const runningBroker = broker;
    const runningHttp = http;
    let stopping: Promise<void> | undefined;
    const stop = async (): Promise<void> => {
      ready = false;
      const started = Date.now();
      await runningBroker.stopAccepting();
      brokerSecurity.stop();
      const drained = batcher.drain().then(() => true);
      const timedOut = new Promise<false>((resolve) => setTimeout(() => resolve(false), config.shutdownTimeoutMs).unref());
      const flushed = await Promise.race([drained, timedOut]);
      if (!flushed) {
        const s = batcher.stats();
        log.error({ notStored: s.outstandingReadings }, `shutdown deadline of ${config.shutdownTimeoutMs} ms reached: readings not stored (not acknowledged in durable mode)`);
      }
      await deadLetter.flush(Math.max(0, config.shutdownTimeoutMs - (Date.now() - started)));
      // PUBACKs released by the flush are written by mqtt-packet on the next tick (cork/uncork):
      // give them a turn of the loop to reach the sockets before the connections close.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      await runningBroker.close('shutdown');
      await dispatcher?.settle();
      dispatcher?.close();
      await presence.close();
      presenceRequester.close();
      live.close();
      await cluster?.close();
      await runningHttp.close();
      await readingSink.shutdown();
      health?.stop();
      clients.destroy();
      await embedded?.stop();
      log.info({ ms: Date.now() - started, flushed }, 'iot-ingest stopped');
    };
    return {
      mqttPort: broker.port,
      mqttPorts: broker.ports,
      httpPort: http.port,
      dynamodbEndpoint: endpoint,
      metrics,
      isReady,
      reloadTls: () => runningBroker.reloadTls(),
      readinessDetail,
      stop: () => (stopping ??= stop()),
    };
  } catch (err) {
    security?.stop();
    health?.stop();
    await broker?.close('shutdown');
    await presence.close().catch(() => undefined);
    presenceRequester.close();
    live.close();
    await cluster?.close();
    await http?.close();
    await sink?.shutdown();
    clients.destroy();
    await embedded?.stop();
    throw err;
  }
}

/** Runs `step` until it succeeds, retrying (with backoff) only errors that waiting can cure. */
export async function untilReachable(log: Logger, step: () => Promise<void>): Promise<void> {
  await retry(
    async () => {
      try {
        await step();
      } catch (err) {
        throw err instanceof IngestError ? err : toStoreError(err);
      }
    },
    {
      backoff: { baseMs: 200, capMs: 5_000 },
      onRetry: (err, attempt, retryInMs) => log.warn({ err, attempt, retryInMs }, 'DynamoDB not reachable yet; /readyz stays 503 until it is'),
    },
  );
}
