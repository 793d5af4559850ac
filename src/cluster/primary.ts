// `serve --workers N`: the primary process. It owns what must exist once per machine — the embedded
// DynamoDB-API server and its tables, the one HTTP port — and forks N broker workers that share
// the MQTT listener through node:cluster (connections are handed out round-robin). /metrics
// aggregates every worker's registry (prom-client AggregatorRegistry) with the primary's own;
// /readyz is 200 only while all N workers are ready. A worker that dies is counted and restarted
// (with backoff); stop() drains every worker (each flushes its queue) and returns once all exited.
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import { bindHosts } from '../config/schema.ts';
import type { ServeConfig } from '../config/schema.ts';
import { createHttpGuard, resolveApiToken } from '../http/auth.ts';
import { consoleRoutes } from '../http/console.ts';
import { deadLetterRoutes } from '../http/dead-letters.ts';
import { startHttp } from '../http/server.ts';
import { deviceRoutes } from '../presence/http.ts';
import { computeBackoffMs } from '../ingest/backoff.ts';
import { untilReachable } from '../service.ts';
import { createDynamoClients } from '../storage/client.ts';
import { startEmbeddedDynamo } from '../storage/embedded.ts';
import type { EmbeddedDynamo } from '../storage/embedded.ts';
import { ensureServiceTables } from '../service-tables.ts';
import { ClusterRegistry } from './cluster-registry.ts';
import { MESSAGE_TYPES, isWorkerState } from './messages.ts';
import type { WorkerState } from './messages.ts';
import { WORKER_CONFIG_ENV, WORKER_SLOT_ENV } from './worker.ts';

export function resolveWorkerCount(workers: ServeConfig['workers']): number {
  return workers === 'auto' ? availableParallelism() : workers;
}

export interface RunningPrimary {
  readonly httpPort: number;
  readonly workers: number;
  isReady(): boolean;
  /** Drains every worker, then closes the HTTP port and the embedded store. Idempotent. */
  stop(): Promise<void>;
}

interface Slot {
  worker: Worker | undefined;
  state: WorkerState | undefined;
  restarts: number;
}

export async function startPrimary(config: ServeConfig, deps: { log: Logger; env: NodeJS.ProcessEnv }): Promise<RunningPrimary> {
  const { log } = deps;
  const count = resolveWorkerCount(config.workers);
  let embedded: EmbeddedDynamo | undefined;
  let endpoint = config.dynamodbEndpoint;
  if (endpoint === undefined && config.embedded) {
    embedded = await startEmbeddedDynamo({ port: config.embeddedPort, dataDir: config.dataDir, log: log.child({ component: 'embedded-dynamodb' }) });
    endpoint = embedded.endpoint;
  }
  const clients = createDynamoClients({ endpoint, region: config.region, requestTimeoutMs: config.requestTimeoutMs }, deps.env);
  const tableLog = log.child({ component: 'tables' });
  // Tables are created once, here, before any worker asks for them.
  await untilReachable(tableLog, async () => {
    await ensureServiceTables(clients.client, config, { create: config.createTable, retentionDays: config.retentionDays, log: tableLog });
  });

  const own = new Registry();
  const restartsTotal = new Counter({ name: 'iot_ingest_worker_restarts_total', help: 'With --workers: worker processes that died and were restarted.', registers: [own] });
  const slots: Slot[] = Array.from({ length: count }, () => ({ worker: undefined, state: undefined, restarts: 0 }));
  new Gauge({
    name: 'iot_ingest_workers',
    help: 'With --workers: worker processes by state (configured, alive, ready).',
    labelNames: ['state'] as const,
    registers: [own],
    collect() {
      this.set({ state: 'configured' }, count);
      this.set({ state: 'alive' }, slots.filter((s) => s.worker && !s.worker.isDead()).length);
      this.set({ state: 'ready' }, slots.filter((s) => s.state?.ready).length);
    },
  });

  let stopping = false;
  // Workers get the resolved configuration: the shared store endpoint, no table creation, and an
  // HTTP listener of their own on a loopback port (the public one is the primary's).
  const workerConfig = JSON.stringify({ ...config, workers: 1, dynamodbEndpoint: endpoint, createTable: false, httpHost: '127.0.0.1', httpPort: 0 });
  const fork = (index: number): void => {
    const worker = cluster.fork({ [WORKER_CONFIG_ENV]: workerConfig, [WORKER_SLOT_ENV]: String(index) });
    const slot = slots[index] as Slot;
    slot.worker = worker;
    slot.state = undefined;
    worker.on('message', (message: unknown) => {
      if (isWorkerState(message) && slot.worker === worker) slot.state = message;
    });
  };
  cluster.on('exit', (worker, code, signal) => {
    const index = slots.findIndex((s) => s.worker === worker);
    if (index < 0) return;
    const slot = slots[index] as Slot;
    slot.state = undefined;
    if (stopping) return;
    restartsTotal.inc();
    const delayMs = computeBackoffMs(Math.min(slot.restarts++, 6), { baseMs: 250, capMs: 10_000 }) + 100;
    log.error({ worker: index, pid: worker.process.pid, code, signal, restartInMs: delayMs }, 'worker died; restarting it');
    setTimeout(() => {
      if (!stopping) fork(index);
    }, delayMs).unref();
  });
  for (let i = 0; i < count; i++) fork(i);

  const isReady = (): boolean => !stopping && slots.every((s) => s.state?.ready === true);
  const http = await startHttp({
    host: bindHosts(config).httpHost,
    port: config.httpPort,
    registry: new ClusterRegistry(own),
    guard: createHttpGuard(resolveApiToken(config), config.metricsAuth, own),
    isReady,
    readinessDetail: () => ({
      workers: slots.map((s, i) => ({ worker: i, pid: s.state?.pid ?? null, ready: s.state?.ready ?? false, ...s.state?.detail })),
    }),
    doc: clients.doc,
    tableName: config.tableName,
    log: log.child({ component: 'http' }),
    // The registry view, dead letters and the console need no broker. Commands and live streams
    // live in the workers' brokers and are not served on the primary's port yet.
    routes: [...deviceRoutes(clients.doc, config.devicesTableName, config.tableName), ...deadLetterRoutes(clients.doc, config.dlqTableName), ...consoleRoutes()],
  });
  log.info({ workers: count, httpPort: http.port, mqttPort: config.mqttPort, dynamodbEndpoint: endpoint ?? 'aws' }, 'primary started; forking workers');

  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    stopping = true;
    const alive = slots.map((s) => s.worker).filter((w): w is Worker => w !== undefined && !w.isDead());
    const exited = Promise.all(alive.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve())))));
    for (const w of alive) if (w.isConnected()) w.send({ type: MESSAGE_TYPES.shutdown });
    // Each worker has its own flush deadline; past it (plus a margin) a worker that hangs is killed.
    const deadline = setTimeout(() => {
      for (const w of alive) if (!w.isDead()) {
        log.error({ pid: w.process.pid }, 'worker did not exit after its shutdown deadline; killing it');
        w.process.kill('SIGKILL');
      }
    }, config.shutdownTimeoutMs + 10_000);
    await exited;
    clearTimeout(deadline);
    await http.close();
    clients.destroy();
    await embedded?.stop();
    log.info('all workers stopped');
  };
  return { httpPort: http.port, workers: count, isReady, stop: () => (stopped ??= stop()) };
}
