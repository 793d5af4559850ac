// Messages between the bench runner and the processes it forks (reference servers, the null
// DynamoDB endpoint, the load generator), and small helpers for both sides of the IPC channel.
import type { ChildProcess } from 'node:child_process';

/** Counters a forked server reports when asked: what it received, stored, and requests it made. */
export interface ServerStats {
  readonly received: number;
  readonly stored: number;
  readonly requests: number;
  readonly failed: number;
}

export interface LoadResult {
  readonly connections: number;
  readonly window: number;
  /** Wall time of the measured window, seconds (the generator's own clock). */
  readonly elapsedS: number;
  readonly sent: number;
  readonly acked: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Connections the server closed during the run. */
  readonly disconnects: number;
  /** Paced mode: sends skipped because the connection's window was full (the server fell behind). */
  readonly skipped: number;
  /** The generator's own CPU over the measured window, in cores (1 = one core busy). */
  readonly cpuCores: number;
}

export type ChildMessage =
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'stats'; readonly stats: ServerStats }
  | { readonly type: 'connected'; readonly connections: number; readonly ms: number }
  | { readonly type: 'result'; readonly result: LoadResult }
  | { readonly type: 'acked'; readonly acked: number }
  | { readonly type: 'ceiling'; readonly storedPerS: number; readonly failed: number; readonly clientCpuCores: number; readonly storeCpuCores: number; readonly concurrency: number; readonly warmupS: number }
  | { readonly type: 'error'; readonly message: string };

export type ParentMessage = { readonly type: 'stats' } | { readonly type: 'start' } | { readonly type: 'measure' } | { readonly type: 'stop' } | { readonly type: 'acked' };

/** Child side: send one message to the runner; run by hand (not forked), print it instead. */
export function toParent(message: ChildMessage): void {
  if (process.send) process.send(message);
  else process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** Child side: handle the runner's messages, and exit when the runner goes away. */
export function onParent(handler: (message: ParentMessage) => void, onGone: () => void = () => process.exit(0)): void {
  process.on('message', (m) => handler(m as ParentMessage));
  process.on('disconnect', onGone);
}

/** Runner side: waits for the child's next message of `type`; fails on an error message, exit or timeout. */
export function waitForMessage<T extends ChildMessage['type']>(
  child: ChildProcess,
  type: T,
  timeoutMs: number,
  what: string,
): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (m: unknown): void => {
      const message = m as ChildMessage;
      if (message.type === type) {
        cleanup();
        resolve(message as Extract<ChildMessage, { type: T }>);
      } else if (message.type === 'error') {
        cleanup();
        reject(new Error(`${what}: ${message.message}`));
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      cleanup();
      reject(new Error(`${what}: process exited (code ${code}, signal ${signal}) before "${type}"`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what}: no "${type}" within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Runner side: sends a message and waits for the reply of `type`. */
export function request<T extends ChildMessage['type']>(
  child: ChildProcess,
  message: ParentMessage,
  type: T,
  what: string,
  timeoutMs = 10_000,
): Promise<Extract<ChildMessage, { type: T }>> {
  const reply = waitForMessage(child, type, timeoutMs, what);
  child.send(message);
  return reply;
}
