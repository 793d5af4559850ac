// The only module that touches process.argv, process.env, signals and the exit code. Commands live
// in src/cli/ (registry.ts lists them) and receive what they need through CliIo.
import { runCli } from './cli/registry.ts';
import { EXIT } from './cli/exit-codes.ts';
import cluster from 'node:cluster';
import { isPrimaryMessage } from './cluster/messages.ts';
import { reloadTlsEverywhere } from './broker/tls-reload.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// A reader that goes away (`iot-ingest query x | head -1`) ends the command quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') process.exit(EXIT.FAILURE);
    throw err;
  });
}

let controller: AbortController | undefined;
function trapSignals(): AbortSignal {
  if (controller) return controller.signal;
  const c = new AbortController();
  controller = c;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (c.signal.aborted) {
      process.stderr.write(`iot-ingest: second ${signal}: exiting without waiting\n`);
      process.exit(EXIT.INTERRUPTED);
    }
    c.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return c.signal;
}

// SIGHUP (serve, and each broker process of --workers): re-read the TLS certificate files; new
// handshakes use them, live connections stay.
if (cluster.isWorker || process.argv[2] === 'serve') process.on('SIGHUP', reloadTlsEverywhere);

if (cluster.isWorker) {
  // A broker process of `serve --workers N`, forked by the primary (src/cluster/primary.ts).
  const { runWorker } = await import('./cluster/worker-main.ts');
  process.exitCode = await runWorker(process.env, {
    send: (message) => process.send?.(message),
    onMessage: (listener) => process.on('message', (m: unknown) => isPrimaryMessage(m) && listener(m)),
    onDisconnect: (listener) => process.once('disconnect', listener),
  }, trapSignals());
} else {
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    stderrIsTTY: Boolean(process.stderr.isTTY),
    trapSignals,
  });
}
// Whatever still holds the event loop (SDK sockets, timers) must not keep a finished command alive.
setTimeout(() => process.exit(), 100).unref();
