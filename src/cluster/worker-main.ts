// Entry of a `serve --workers N` worker process (main.ts calls it instead of the CLI when
// node:cluster started the process): its configuration comes from the primary, it serves until the
// primary asks it to drain (or a signal comes, or the primary disappears), then stops like a single
// process does: not ready, stop accepting, flush the queue, finish writes.
import { createLogger } from '../log.ts';
import { startService } from '../service.ts';
import { attachWorker, reportStopping, workerConfigFrom } from './worker.ts';
import type { PrimaryChannel } from './worker.ts';

export async function runWorker(env: NodeJS.ProcessEnv, channel: PrimaryChannel, stopSignal: AbortSignal): Promise<number> {
  const { config, slot } = workerConfigFrom(env);
  const log = createLogger(config.logLevel).child({ worker: slot });
  const service = await startService(config, { log, env });
  const signalled = new Promise<'signal'>((resolve) => {
    if (stopSignal.aborted) resolve('signal');
    else stopSignal.addEventListener('abort', () => resolve('signal'), { once: true });
  });
  const why = await Promise.race([attachWorker(service, slot, channel), signalled]);
  log.info({ why }, 'worker shutting down: flushing queued readings');
  reportStopping(slot, channel);
  await service.stop();
  return 0;
}
