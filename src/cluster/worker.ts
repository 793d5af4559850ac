// One broker process of `serve --workers N`: the ordinary service (its own batcher, writer and
// DynamoDB client) plus what the primary needs from it over the cluster IPC channel: its metrics
// (prom-client's AggregatorRegistry protocol), its readiness (pushed), and the order to drain.
import { AggregatorRegistry, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import { serveConfigSchema } from '../config/schema.ts';
import type { ServeConfig } from '../config/schema.ts';
import type { RunningService } from '../service.ts';
import { MESSAGE_TYPES } from './messages.ts';
import type { PrimaryMessage, WorkerState } from './messages.ts';

export const WORKER_CONFIG_ENV = 'IOT_INGEST_WORKER_CONFIG';
export const WORKER_SLOT_ENV = 'IOT_INGEST_WORKER_SLOT';

/** How often a worker tells the primary whether it is ready. */
const STATE_INTERVAL_MS = 500;

/**
 * How the primary combines a series across workers: sums by default (counters, histograms,
 * connection and queue gauges); these are not sums.
 */
const AGGREGATORS: Record<string, 'min' | 'max' | 'first'> = {
  iot_ingest_ready: 'min',
  iot_ingest_cluster_up: 'min',
  iot_ingest_queue_oldest_age_seconds: 'max',
  iot_ingest_build_info: 'first',
};

/** The worker's configuration, resolved once by the primary (flags, env and the shared store endpoint). */
export function workerConfigFrom(env: NodeJS.ProcessEnv): { config: ServeConfig; slot: number } {
  const raw = env[WORKER_CONFIG_ENV];
  if (raw === undefined) throw new Error(`${WORKER_CONFIG_ENV} is not set: workers are started by the primary`);
  return { config: serveConfigSchema.parse(JSON.parse(raw)), slot: Number(env[WORKER_SLOT_ENV] ?? 0) };
}

/** The IPC channel to the primary (process.send / process.on('message') in main.ts). */
export interface PrimaryChannel {
  send(message: WorkerState): void;
  onMessage(listener: (message: PrimaryMessage) => void): void;
  /** The primary went away (its end of the channel closed). */
  onDisconnect(listener: () => void): void;
}

/**
 * Exposes the worker's registry to the primary's aggregation, labels its connections with its slot,
 * pushes its readiness, and resolves when the primary asks it to drain (or disappears).
 */
export function attachWorker(service: RunningService, slot: number, channel: PrimaryChannel): Promise<'shutdown' | 'primary_gone'> {
  const registry: Registry = service.metrics.registry;
  for (const [name, aggregator] of Object.entries(AGGREGATORS)) {
    const metric = registry.getSingleMetric(name) as unknown as { aggregator?: string } | undefined;
    if (metric) metric.aggregator = aggregator;
  }
  const connected = service.metrics.connectedClients;
  new Gauge({
    name: 'iot_ingest_worker_connected_clients',
    help: 'With --workers: MQTT clients connected to each worker process (label worker = slot 0..N-1).',
    labelNames: ['worker'] as const,
    registers: [registry],
    async collect() {
      const value = (await connected.get()).values[0]?.value ?? 0;
      this.set({ worker: String(slot) }, value);
    },
  });
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry(); // installs prom-client's worker-side listener for metric requests

  const push = (): void => {
    channel.send({ type: MESSAGE_TYPES.state, slot, pid: process.pid, ready: service.isReady(), detail: service.readinessDetail() });
  };
  push();
  const timer = setInterval(push, STATE_INTERVAL_MS);
  timer.unref();
  return new Promise((resolve) => {
    const done = (why: 'shutdown' | 'primary_gone'): void => {
      clearInterval(timer);
      resolve(why);
    };
    channel.onMessage((message) => {
      if (message.type === MESSAGE_TYPES.shutdown) done('shutdown');
    });
    channel.onDisconnect(() => done('primary_gone'));
  });
}

/** Tells the primary this worker is draining (not ready) before it stops. */
export function reportStopping(slot: number, channel: PrimaryChannel): void {
  try {
    channel.send({ type: MESSAGE_TYPES.state, slot, pid: process.pid, ready: false, detail: { stopping: true } });
  } catch {
    // the primary is gone; nothing to tell
  }
}
