// The only module that touches process.argv, process.env, signals and the exit code.
import { CliError } from './errors.ts';
import { describeConfig, parseServeArgs, serveHelp } from './cli/serve.ts';
import { createLogger } from './log.ts';
import { startService } from './service.ts';

const USAGE = `Usage: iot-ingest <command> [options]

Commands:
  serve      run the MQTT broker and the DynamoDB writer (npm start)
  simulate   drive a fleet of simulated devices at a broker (npm run simulate -- --help)
  query      read a device's readings back from the table
  table      create or describe the tables
  dlq        list or replay dead-lettered messages
  command    send a command to a device (over the service's HTTP API), optionally wait for the answer
  tail       print readings as they are stored (Server-Sent Events from the service)

Run "iot-ingest <command> --help" for a command's options.`;

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  serve,
  simulate: async (argv) => {
    const { runSimulate } = await import('../simulator/cli.ts');
    return runSimulate(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, isTTY: Boolean(process.stderr.isTTY), signal: abortOnSignal() });
  },
  query: async (argv) => (await import('./cli/query.ts')).runQuery(argv, { stdout: process.stdout, env: process.env }),
  table: async (argv) => (await import('./cli/table.ts')).runTable(argv, { stdout: process.stdout, env: process.env }),
  dlq: async (argv) => (await import('./cli/dlq.ts')).runDlq(argv, { stdout: process.stdout, env: process.env }),
  command: async (argv) => (await import('./cli/command.ts')).runCommand(argv, { stdout: process.stdout, env: process.env }),
  tail: async (argv) => (await import('./cli/tail.ts')).runTail(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: abortOnSignal() }),
};

async function serve(argv: string[]): Promise<number> {
  const { config, help } = parseServeArgs(argv, process.env);
  if (help) {
    process.stdout.write(`${serveHelp()}\n`);
    return 0;
  }
  const log = createLogger(config.logLevel);
  log.info({ config: describeConfig(config) }, 'configuration');
  const service = await startService(config, { log, env: process.env });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info({ signal }, 'shutting down: flushing queued readings');
  const forceExit = (): void => {
    log.warn('second signal: exiting without waiting for the flush');
    process.exit(130);
  };
  process.once('SIGTERM', forceExit);
  process.once('SIGINT', forceExit);
  await service.stop();
  return 0;
}

function abortOnSignal(): AbortSignal {
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  return controller.signal;
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const [name, ...rest] = process.argv.slice(2);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    process.exitCode = name === undefined ? 2 : 0;
    return;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`iot-ingest: unknown command "${name}"\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  try {
    process.exitCode = await command(rest);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`iot-ingest ${name}: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`iot-ingest ${name}: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
  // Whatever still holds the event loop (SDK sockets, timers) must not keep a finished command alive.
  setTimeout(() => process.exit(), 100).unref();
}

await main();
