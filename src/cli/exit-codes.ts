// Exit codes of every `iot-ingest` command, in one table (printed by `iot-ingest --help` and
// copied in the README). The simulator adds its own, 3-6 (simulator/exitCodes.ts).
import { EXIT_CODE_HELP as SIMULATOR_EXIT_CODES } from '../../simulator/exitCodes.ts';

export const EXIT = {
  OK: 0,
  /** Something failed at run time: unreachable endpoint, missing table, port in use, bad credentials. */
  FAILURE: 1,
  /** The command line was wrong: unknown option, bad value, missing argument. */
  USAGE: 2,
  /** A second SIGINT/SIGTERM while shutting down; `simulate` interrupted before its run completed. */
  INTERRUPTED: 130,
} as const;

export const EXIT_CODE_TABLE: ReadonlyArray<readonly [string, string]> = [
  ['0', 'ok (also: `query` found no readings, said so on stderr)'],
  ['1', 'runtime failure (endpoint unreachable, table missing, port in use, credentials missing, '
    + 'a replay that left records behind, stdout closed by the reader); one line on stderr'],
  ['2', 'usage: unknown option, bad value, stray or missing argument; one line per problem on stderr'],
  ...SIMULATOR_EXIT_CODES.filter(([code]) => code >= 3 && code < 100).map(([code, text]) => [String(code), `simulate: ${text}`] as const),
  ['130', 'interrupted: a second Ctrl-C/SIGTERM during shutdown, or `simulate` stopped before its end'],
];
