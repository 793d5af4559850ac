// Every process the bench starts goes through here, so that every one of them is stopped at the
// end: after each scenario, on an error, on Ctrl-C / SIGTERM, and (SIGKILL) when the runner exits.
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_CHARS = 8_000;

const live = new Set<ChildProcess>();

export interface Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly name: string;
  /** The last few KB of what the process wrote to stdout/stderr. */
  output(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

const childEnv = (): NodeJS.ProcessEnv => ({ ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });

function track(name: string, proc: ChildProcess, onOutput?: (text: string) => void): Child {
  if (proc.pid === undefined) throw new Error(`${name}: could not start`);
  live.add(proc);
  let tail = '';
  const append = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    tail = (tail + text).slice(-OUTPUT_TAIL_CHARS);
    onOutput?.(text);
  };
  proc.stdout?.on('data', append);
  proc.stderr?.on('data', append);
  let done = proc.exitCode !== null || proc.signalCode !== null;
  const exitedPromise = new Promise<void>((resolve) => {
    if (done) resolve();
    proc.once('exit', () => {
      done = true;
      live.delete(proc);
      resolve();
    });
  });
  return {
    proc,
    pid: proc.pid,
    name,
    output: () => tail,
    exited: () => done,
    stop: async () => {
      if (done) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}

/** Forks one of the bench's own TypeScript modules (bench/*.ts) with an IPC channel. */
export function forkBench(name: string, module: string, args: string[]): Child {
  const proc = fork(fileURLToPath(new URL(module, import.meta.url)), args, {
    cwd: REPO_ROOT,
    env: childEnv(),
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  return track(name, proc);
}

/** Spawns `node bin/iot-ingest.js <args>`; `onOutput` sees its log as it comes. */
export function spawnCli(name: string, args: string[], onOutput: (text: string) => void): Child {
  const proc = spawn(process.execPath, [fileURLToPath(new URL('../bin/iot-ingest.js', import.meta.url)), ...args], {
    cwd: REPO_ROOT,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(name, proc, onOutput);
}

/** SIGKILL to everything still running (last resort, synchronous: safe in an 'exit' handler). */
export function killAllNow(): void {
  for (const proc of live) proc.kill('SIGKILL');
}

/** Stops everything still running, gracefully first. */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...live].map(
      (proc) =>
        new Promise<void>((resolve) => {
          if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
          proc.once('exit', () => resolve());
          proc.kill('SIGTERM');
          setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS).unref();
        }),
    ),
  );
}

/** Installs the handlers that make sure no child outlives the runner. */
export function installCleanup(onInterrupt: () => void = () => {}): void {
  process.on('exit', killAllNow);
  const interrupted = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\nbench: ${signal}, stopping every process it started\n`);
    onInterrupt();
    void stopAll().finally(() => process.exit(130));
    // A second signal does not wait.
    process.once(signal, () => {
      killAllNow();
      process.exit(130);
    });
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
}
