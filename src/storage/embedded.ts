// Starts the embedded DynamoDB-API server (dynalite, pure JS) in its own process, keeping its data
// under the data directory, and waits until it answers.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type { Logger } from 'pino';
import { IngestError } from '../errors.ts';
import { createDynamoClients } from './client.ts';

export interface EmbeddedDynamo {
  readonly endpoint: string;
  stop(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./embedded-server.cjs', import.meta.url));

export async function startEmbeddedDynamo(options: { port: number; dataDir: string; log: Logger }): Promise<EmbeddedDynamo> {
  const path = resolve(options.dataDir, 'dynalite');
  mkdirSync(path, { recursive: true });
  const child = spawn(process.execPath, [CHILD, '127.0.0.1', String(options.port), path], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<{ port?: number; error?: string }>((done) => {
    lines.once('line', (line) => done(JSON.parse(line) as { port?: number; error?: string }));
    child.once('exit', (code) => done({ error: `exited with code ${code}` }));
  });
  if (first.port === undefined) {
    const hint = first.error === 'EADDRINUSE' ? ` (port ${options.port} is taken: another iot-ingest running? set --embedded-port)` : '';
    throw new IngestError('STORE_UNAVAILABLE', `embedded DynamoDB-API server failed to start: ${first.error}${hint}`);
  }
  const endpoint = `http://127.0.0.1:${first.port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  // The data directory's lock may still be held for a moment by a previous instance that is exiting.
  const { client, destroy } = createDynamoClients({ endpoint, region: 'us-east-1' });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch (err) {
        if (attempt >= 50) {
          await stop();
          throw new IngestError('STORE_UNAVAILABLE', `embedded DynamoDB-API server at ${endpoint} does not answer`, { cause: err });
        }
        await sleep(200);
      }
    }
  } finally {
    destroy();
  }
  options.log.info({ endpoint, dataDir: join(options.dataDir, 'dynalite') }, 'embedded DynamoDB-API server (dynalite) started');
  return { endpoint, stop };
}
