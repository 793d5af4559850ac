// The four servers the bench measures, each started in its own process(es) and seen from outside:
// its MQTT port, the pid whose CPU and RSS are "the server", the other processes that count into
// "total" CPU, and a way to read its counters (readings stored, storage requests) at any moment.
import { forkBench, spawnCli } from './children.ts';
import type { Child } from './children.ts';
import { request, waitForMessage } from './ipc.ts';
import { BENCH_LIMIT_FLAGS } from './limit-flags.ts';

const START_TIMEOUT_MS = 60_000;

export interface Counters {
  /** performance.now() when the counters were read. */
  readonly at: number;
  /** Readings in storage so far (undefined: the server stores nothing). */
  readonly stored?: number;
  /** Storage write requests so far (BatchWriteItem or PutItem). */
  readonly requests?: number;
  /** The service's own event-loop lag p99 (prom-client default metric), ms. */
  readonly eventLoopLagP99Ms?: number;
  /** Devices whose connect or disconnect the service has not written to its registry yet. */
  readonly presencePending?: number;
}

export interface Target {
  readonly mqttPort: number;
  /** The process that runs the broker: its CPU is "server", its RSS is the one per connection. */
  readonly server: Child;
  /** Separate processes whose CPU counts into "total" (the server's own descendants always do). */
  readonly backends: readonly Child[];
  counters(): Promise<Counters>;
  stop(): Promise<void>;
}

export interface ScenarioContext {
  /** A fresh, empty directory for this scenario's data. */
  readonly dataDir: string;
  /** Extra flags for `iot-ingest serve` (--serve-args). */
  readonly serveArgs: readonly string[];
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly stores: boolean;
  start(ctx: ScenarioContext): Promise<Target>;
}

async function stopAllOf(children: readonly Child[]): Promise<void> {
  for (const c of children) await c.stop();
}

/** Forks a bench server module and waits for its "ready" message with the port. */
async function forkServer(name: string, module: string, args: string[]): Promise<{ child: Child; port: number }> {
  const child = forkBench(name, module, args);
  try {
    const { port } = await waitForMessage(child.proc, 'ready', START_TIMEOUT_MS, name);
    return { child, port };
  } catch (err) {
    await child.stop();
    throw new Error(`${(err as Error).message}\n${child.output()}`, { cause: err });
  }
}

/** A server of ours answers "stats" over IPC. */
function ipcCounters(child: Child, name: string): () => Promise<Counters> {
  return async () => {
    const { stats } = await request(child.proc, { type: 'stats' }, 'stats', name);
    return { at: performance.now(), stored: stats.stored, requests: stats.requests };
  };
}

/** Sum of one metric's samples in Prometheus text format (all label sets). */
export function metricSum(text: string, name: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(rest.slice(rest.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}

/** Runs `iot-ingest serve` on ephemeral ports and waits for its "iot-ingest ready" log line. */
async function startServe(name: string, args: readonly string[], backends: readonly Child[]): Promise<Target> {
  let pending = '';
  let ready: ((ports: { mqttPort: number; httpPort: number }) => void) | undefined;
  const readyLine = new Promise<{ mqttPort: number; httpPort: number }>((resolve) => (ready = resolve));
  const server = spawnCli(
    name,
    ['serve', '--mqtt-host', '127.0.0.1', '--mqtt-port', '0', '--http-host', '127.0.0.1', '--http-port', '0', '--log-level', 'info', ...BENCH_LIMIT_FLAGS, ...args],
    (text) => {
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes('"iot-ingest ready"')) ready?.(JSON.parse(line) as { mqttPort: number; httpPort: number });
      }
    },
  );
  const exited = new Promise<never>((_, reject) => server.proc.once('exit', (code, signal) => reject(new Error(`${name}: exited (code ${code}, signal ${signal}) before ready`))));
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${name}: not ready within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS).unref());
  let ports: { mqttPort: number; httpPort: number };
  try {
    ports = await Promise.race([readyLine, exited, timeout]);
  } catch (err) {
    await server.stop();
    await stopAllOf(backends);
    throw new Error(`${(err as Error).message}\n${server.output()}`, { cause: err });
  }
  exited.catch(() => {}); // exits after ready are noticed by the runner (server.exited())
  const metricsUrl = `http://127.0.0.1:${ports.httpPort}/metrics`;
  return {
    mqttPort: ports.mqttPort,
    server,
    backends,
    counters: async () => {
      const text = await (await fetch(metricsUrl)).text();
      const lag = metricSum(text, 'nodejs_eventloop_lag_p99_seconds');
      return {
        at: performance.now(),
        stored: metricSum(text, 'iot_ingest_readings_stored_total') ?? 0,
        requests: metricSum(text, 'iot_ingest_batch_size_readings_count') ?? 0,
        presencePending: metricSum(text, 'iot_ingest_presence_pending_devices') ?? 0,
        ...(lag === undefined ? {} : { eventLoopLagP99Ms: lag * 1000 }),
      };
    },
    stop: async () => {
      await server.stop();
      await stopAllOf(backends);
    },
  };
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'aedes-raw',
    description: 'plain aedes, authorizePublish counts and acks: the broker alone (upper bound)',
    stores: false,
    start: async () => {
      const { child, port } = await forkServer('aedes-raw', './aedes-raw.ts', []);
      return { mqttPort: port, server: child, backends: [], counters: ipcCounters(child, 'aedes-raw'), stop: () => child.stop() };
    },
  },
  {
    name: 'pipeline-null-dynamo',
    description: 'iot-ingest serve (durable acks) into a do-nothing DynamoDB-API endpoint: the pipeline\'s own cost',
    stores: true,
    start: async (ctx) => {
      const endpoint = await forkServer('null-dynamo', './null-dynamo.ts', []);
      return startServe('pipeline-null-dynamo', ['--dynamodb-endpoint', `http://127.0.0.1:${endpoint.port}`, ...ctx.serveArgs], [endpoint.child]);
    },
  },
  {
    name: 'pipeline-embedded',
    description: 'iot-ingest serve (durable acks) into its embedded dynalite (child process, data on disk)',
    stores: true,
    start: (ctx) => startServe('pipeline-embedded', ['--embedded-port', '0', '--data-dir', ctx.dataDir, ...ctx.serveArgs], []),
  },
  {
    name: 'naive-putitem',
    description: 'aedes + JSON.parse + one awaited PutItem per message, into its own dynalite (child process, data on disk)',
    stores: true,
    start: async (ctx) => {
      const { child, port } = await forkServer('naive-putitem', './naive-server.ts', [ctx.dataDir]);
      return { mqttPort: port, server: child, backends: [], counters: ipcCounters(child, 'naive-putitem'), stop: () => child.stop() };
    },
  },
];
