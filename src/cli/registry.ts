// Every `iot-ingest` command, and the dispatcher that runs one.
//
// Adding a command takes two steps:
//   1. Create src/cli/<name>.ts exporting `<name>Command = defineCommand({ name, usage, description,
//      settings, schema, run })` (see command.ts; query.ts is a small example). Options are
//      SettingSpec rows + a zod schema (reuse SERVE_SETTINGS / connection.ts for shared settings, so
//      a flag and its env var mean the same in every command); `json: true` when the output is data;
//      `actions` for sub-actions (`dlq list|replay|purge`). Throw usageError() for a usage mistake;
//      wrap calls to DynamoDB or the broker in withHints() so explain.ts can name the table, endpoint
//      or port in its one-line message. Never touch process.*: use the CliIo you are given.
//   2. Add one line to COMMANDS below: name, one-line summary, and a lazy import of the command.
// --help, --version, unknown/stray arguments, exit codes (exit-codes.ts) and error wording come
// from the shared layer; tests: test/cli-contract.test.ts runs the contract table over every command.
import type { CliCommand, CliIo } from './command.ts';
import { EXIT, EXIT_CODE_TABLE } from './exit-codes.ts';
import { explainError } from './explain.ts';
import { formatRows } from './options.ts';
import { packageVersion } from './version.ts';

interface Registration {
  readonly name: string;
  readonly summary: string;
  load(): Promise<CliCommand>;
}

export const COMMANDS: readonly Registration[] = [
  { name: 'serve', summary: 'run the MQTT broker and the DynamoDB writer (npm start)', load: async () => (await import('./serve.ts')).serveCommand },
  { name: 'simulate', summary: 'drive a fleet of simulated devices at a broker', load: async () => (await import('./simulate.ts')).simulateCommand },
  { name: 'query', summary: 'read a device\'s readings back from the table', load: async () => (await import('./query.ts')).queryCommand },
  { name: 'table', summary: 'create or describe the tables', load: async () => (await import('./table.ts')).tableCommand },
  { name: 'dlq', summary: 'list, replay or purge dead-lettered messages', load: async () => (await import('./dlq.ts')).dlqCommand },
  { name: 'devices', summary: 'the device registry (add, revoke, rotate, import) and the devices a running service sees (list, show)', load: async () => (await import('./devices.ts')).devicesCommand },
  { name: 'command', summary: 'send a command to a device, optionally wait for its answer', load: async () => (await import('./send-command.ts')).sendCommandCommand },
  { name: 'tail', summary: 'print readings as they are stored (live)', load: async () => (await import('./tail.ts')).tailCommand },
];

export function topHelp(): string {
  return [
    'Usage: iot-ingest <command> [options]',
    '',
    'Commands:',
    formatRows(COMMANDS.map((c) => [c.name, c.summary] as const), 14),
    '',
    'Options:',
    formatRows([['-h, --help', 'show this help'], ['--version', 'print the version']], 14),
    '',
    'Run "iot-ingest <command> --help" for a command\'s options. Every setting is a flag and an',
    'environment variable (defaults < environment < flags).',
    '',
    'Exit codes:',
    formatRows(EXIT_CODE_TABLE, 8),
    '',
  ].join('\n');
}

/** Runs the command named by argv[0]; returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(topHelp());
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${packageVersion()}\n`);
    return EXIT.OK;
  }
  const registration = COMMANDS.find((c) => c.name === name);
  if (!registration) {
    io.stderr.write(`iot-ingest: unknown command "${name}": use one of ${COMMANDS.map((c) => c.name).join(', ')} (see --help)\n`);
    return EXIT.USAGE;
  }
  try {
    return await (await registration.load()).run(rest, io);
  } catch (err) {
    // Only what escapes a command's own handling (defineCommand explains its errors itself).
    const explained = explainError(err, rest.includes('debug'));
    if (explained.line !== '') io.stderr.write(`iot-ingest ${name}: ${explained.line}\n`);
    return explained.exitCode;
  }
}
