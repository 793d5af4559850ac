// Runs the service for tests: in-process on ephemeral ports (fast, metrics readable directly), or
// as a real `iot-ingest serve` process for signal and crash tests.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { pino } from 'pino';
import { serveConfigSchema } from '../../src/config/schema.ts';
import type { ServeConfig } from '../../src/config/schema.ts';
import { startService } from '../../src/service.ts';
import type { RunningService, ServiceDeps } from '../../src/service.ts';
import { createDynamoClients } from '../../src/storage/client.ts';
import type { DynamoClients } from '../../src/storage/client.ts';
import { randomTableName, waitFor } from './dynamo-servers.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../bin/iot-ingest-dev.js', import.meta.url));

export interface TestService {
  readonly service: RunningService;
  readonly config: ServeConfig;
  readonly mqttUrl: string;
  readonly httpUrl: string;
  readonly clients: DynamoClients;
  stop(): Promise<void>;
}

/** Starts the service in this process against `endpoint`, with random table names. */
export async function startTestService(endpoint: string, overrides: Partial<Record<keyof ServeConfig, unknown>> = {}, deps: Omit<ServiceDeps, 'log'> = {}): Promise<TestService> {
  const config = serveConfigSchema.parse({
    mqttHost: '127.0.0.1',
    mqttPort: 0,
    httpHost: '127.0.0.1',
    httpPort: 0,
    dynamodbEndpoint: endpoint,
    tableName: randomTableName('telemetry'),
    dlqTableName: randomTableName('dlq'),
    logLevel: 'silent',
    ...overrides,
  });
  const log = pino({ level: config.logLevel });
  const service = await startService(config, { log, ...deps });
  const clients = createDynamoClients({ endpoint, region: config.region });
  return {
    service,
    config,
    mqttUrl: `mqtt://127.0.0.1:${service.mqttPort}`,
    httpUrl: `http://127.0.0.1:${service.httpPort}`,
    clients,
    stop: async () => {
      await service.stop();
      clients.destroy();
    },
  };
}

/** Every item of a table (Scan with pagination). */
export async function scanAll(doc: DynamoDBDocumentClient, table: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** The value of one sample in Prometheus text format (sum over series matching the labels). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const labelText = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

export async function scrape(httpUrl: string): Promise<string> {
  const res = await fetch(`${httpUrl}/metrics`);
  return res.text();
}

export interface SpawnedService {
  readonly proc: ChildProcess;
  readonly mqttPort: number;
  /** Port of each enabled MQTT listener (tcp, tls, ws, wss). */
  readonly mqttPorts: Record<string, number>;
  readonly httpPort: number;
  /** Everything the process wrote to stderr (its JSON log) so far. */
  logs(): string;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
}

/** Runs `iot-ingest serve` as a child process and waits for its "ready" log line. */
export async function spawnService(args: string[], env: NodeJS.ProcessEnv = {}): Promise<SpawnedService> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--log-level', 'info', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout?.resume();
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  let done = false;
  void exited.then(() => (done = true));
  const ready = await waitFor(
    () => {
      if (done) throw new Error(`service exited before ready:\n${stderr}`);
      const line = stderr.split('\n').find((l) => l.includes('"iot-ingest ready"'));
      return line ? (JSON.parse(line) as { mqttPort: number; mqttPorts: Record<string, number>; httpPort: number }) : undefined;
    },
    { timeoutMs: 30_000, message: 'service did not become ready' },
  ).catch((err: unknown) => {
    proc.kill('SIGKILL');
    throw err;
  });
  return { proc, mqttPort: ready.mqttPort, mqttPorts: ready.mqttPorts, httpPort: ready.httpPort, logs: () => stderr, exited };
}

/** Runs the CLI to completion and returns its exit code and output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`iot-ingest ${args.join(' ')} timed out\n${stderr}`));
    }, timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
