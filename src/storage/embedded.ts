// Starts the embedded DynamoDB-API server (dynalite, pure JS) in its own process, keeping its data
// under the data directory, waits until it answers, and supervises it: when the process dies
// unexpectedly the death is logged and it is started again, with backoff, on the SAME port and data
// directory (so the SDK clients of the service reconnect by themselves). `onDown` / `onUp` tell the
// store's health (readiness) at once, without waiting for its next probe.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type { Logger } from 'pino';
import { IngestError } from '../errors.ts';
import { retry } from '../retry.ts';
import { createDynamoClients } from './client.ts';

export interface EmbeddedDynamo {
  readonly endpoint: string;
  /** Process id of the running server, undefined while it is down. */
  pid(): number | undefined;
  /** Times it was restarted after dying. */
  restarts(): number;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  readonly port: number;
  readonly dataDir: string;
  readonly log: Logger;
  /** Called when the process died unexpectedly. */
  readonly onDown?: () => void;
  /** Called when a restarted process answers again. */
  readonly onRestarted?: () => void;
}

interface Spawned {
  readonly child: ChildProcess;
  readonly port: number;
  readonly exited: Promise<void>;
}

const CHILD = fileURLToPath(new URL('./embedded-server.cjs', import.meta.url));
/**
 * The child's libuv thread pool (measured in bench/README.md, "The embedded store"). Dynalite makes
 * a separate get and a put on LevelDB's thread pool for every item; with libuv's default of four
 * pool threads, submitting that work (waking an idle thread each time) took 27 % of the store
 * main thread's profile samples under a BatchWrite load, 10 % with one pool thread, which is then
 * usually still busy. LevelDB compacts on a thread of its own either way.
 */
const CHILD_THREADPOOL_SIZE = '1';
const RESTART_BACKOFF = { baseMs: 200, capMs: 10_000 } as const;
/** A fresh server is polled quickly at first, then at most every 500 ms, for up to 15 s. */
const START_BACKOFF = { baseMs: 50, capMs: 500 } as const;
const START_BUDGET_MS = 15_000;

export async function startEmbeddedDynamo(options: EmbeddedOptions): Promise<EmbeddedDynamo> {
  const path = resolve(options.dataDir, 'dynalite');
  mkdirSync(path, { recursive: true });
  const log = options.log;
  let current: Spawned | undefined = await spawnServer(options.port, path);
  const port = current.port;
  const endpoint = `http://127.0.0.1:${port}`;
  let stopping = false;
  let restarts = 0;
  await untilAnswering(endpoint, current).catch(async (err: unknown) => {
    await kill(current);
    throw err;
  });
  log.info({ endpoint, dataDir: path, pid: current.child.pid }, 'embedded DynamoDB-API server (dynalite) started');

  const supervise = (s: Spawned): void => {
    s.child.once('exit', (code, signal) => {
      if (stopping || current !== s) return;
      current = undefined;
      log.error({ pid: s.child.pid, code, signal }, 'embedded DynamoDB-API server died; restarting it on the same port and data directory');
      options.onDown?.();
      void restart();
    });
  };

  const stopped = new AbortController();
  const restart = async (): Promise<void> => {
    let attempts = 0;
    await retry(
      async () => {
        attempts++;
        const s = await spawnServer(port, path);
        await untilAnswering(endpoint, s).catch(async (err: unknown) => {
          await kill(s);
          throw err;
        });
        if (stopping) return void (await kill(s));
        current = s;
        supervise(s);
        restarts++;
        log.warn({ endpoint, pid: s.child.pid, attempts }, 'embedded DynamoDB-API server restarted');
        options.onRestarted?.();
      },
      {
        backoff: RESTART_BACKOFF,
        signal: stopped.signal,
        isRetriable: () => !stopping,
        onRetry: (err, attempt, retryInMs) => log.error({ err, attempt: attempt + 1, retryInMs }, 'embedded DynamoDB-API server could not be restarted yet'),
      },
    ).catch(() => undefined); // only a stop ends the retries
  };
  supervise(current);

  return {
    endpoint,
    pid: () => current?.child.pid,
    restarts: () => restarts,
    stop: async () => {
      stopping = true;
      stopped.abort();
      await kill(current);
    },
  };
}

/** Spawns the child and waits for its "listening" line (or its failure). */
async function spawnServer(port: number, path: string): Promise<Spawned> {
  const child = spawn(process.execPath, [CHILD, '127.0.0.1', String(port), path], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, UV_THREADPOOL_SIZE: CHILD_THREADPOOL_SIZE },
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const first = await new Promise<{ port?: number; error?: string }>((done) => {
    lines.once('line', (line) => done(JSON.parse(line) as { port?: number; error?: string }));
    child.once('exit', (code) => done({ error: `exited with code ${code}` }));
  });
  lines.close();
  if (first.port === undefined) {
    const hint = first.error === 'EADDRINUSE' ? ` (port ${port} is taken: another iot-ingest running? set --embedded-port)` : '';
    throw new IngestError('STORE_UNAVAILABLE', `embedded DynamoDB-API server failed to start: ${first.error}${hint}`);
  }
  return { child, port: first.port, exited };
}

/** Waits for a freshly spawned server: the data directory's lock may still be held for a moment by a previous instance that is exiting. */
async function untilAnswering(endpoint: string, s: Spawned): Promise<void> {
  const { client, destroy } = createDynamoClients({ endpoint, region: 'us-east-1', requestTimeoutMs: 2_000 });
  const exited = (): boolean => s.child.exitCode !== null || s.child.signalCode !== null;
  try {
    await retry(
      async () => {
        if (exited()) throw new IngestError('STORE_UNAVAILABLE', `embedded DynamoDB-API server at ${endpoint} exited while starting`, { retriable: false });
        await client.send(new ListTablesCommand({ Limit: 1 }));
      },
      // Any error but the server's exit means "not answering yet", until the budget is spent (an
      // exit during a request is found by the next attempt, which names it).
      { backoff: START_BACKOFF, budgetMs: START_BUDGET_MS, isRetriable: (err) => !(err instanceof IngestError && err.code === 'STORE_UNAVAILABLE') },
    );
  } catch (err) {
    if (err instanceof IngestError && err.code === 'RETRY_EXHAUSTED') {
      throw new IngestError('STORE_UNAVAILABLE', `embedded DynamoDB-API server at ${endpoint} does not answer after ${START_BUDGET_MS / 1000} s`, { cause: err.cause });
    }
    throw err;
  } finally {
    destroy();
  }
}

async function kill(s: Spawned | undefined): Promise<void> {
  if (!s) return;
  if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
  await s.exited;
}
