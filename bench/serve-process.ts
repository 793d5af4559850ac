// `iot-ingest serve` from a checkout as the bench's profilers run it (bench/profile.ts,
// bench/thread-cpu.ts): loopback ports chosen by the system, the bench's raised limits, and the
// ports read from its "ready" log line.
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { forkBench } from './children.ts';
import { waitForMessage } from './ipc.ts';
import { BENCH_LIMIT_FLAGS } from './limit-flags.ts';

/**
 * The store flags for `startServe`: the do-nothing DynamoDB endpoint (forked here; stopped with
 * the bench's other children), or with `embeddedDataDir` the service's own embedded dynalite
 * keeping its data there.
 */
export async function benchStoreArgs(embeddedDataDir?: string): Promise<string[]> {
  if (embeddedDataDir !== undefined) return ['--data-dir', embeddedDataDir];
  const nullDynamo = forkBench('null-dynamo', './null-dynamo.ts', []);
  const { port } = await waitForMessage(nullDynamo.proc, 'ready', 60_000, 'null-dynamo');
  return ['--dynamodb-endpoint', `http://127.0.0.1:${port}`];
}

export interface ServeProcess {
  readonly serve: ChildProcessByStdio<null, Readable, Readable>;
  readonly mqttPort: number;
  readonly httpPort: number;
}

/** Starts `node [nodeArgs] <root>/bin/iot-ingest.js serve [storeArgs]` and waits until it is ready. */
export async function startServe(root: string, nodeArgs: readonly string[], storeArgs: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const serve = spawn(process.execPath, [...nodeArgs, join(root, 'bin/iot-ingest.js'), 'serve', '--mqtt-host', '127.0.0.1', '--mqtt-port', '0', '--http-host', '127.0.0.1', '--http-port', '0', ...storeArgs, '--log-level', 'info', ...BENCH_LIMIT_FLAGS], {
    cwd: root,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ports = await new Promise<{ mqttPort: number; httpPort: number }>((resolveReady, reject) => {
    let buf = '';
    // Logs go to stdout or stderr depending on the revision: watch both, keep only a tail.
    const onLog = (c: Buffer): void => {
      buf = (buf + c.toString()).slice(-20_000);
      const line = buf.split('\n').find((l) => l.includes('"iot-ingest ready"'));
      if (line) resolveReady(JSON.parse(line) as { mqttPort: number; httpPort: number });
    };
    serve.stdout.on('data', onLog);
    serve.stderr.on('data', onLog);
    serve.once('exit', () => reject(new Error('serve exited before ready')));
  });
  return { serve, ...ports };
}
