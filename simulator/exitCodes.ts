// Exit codes of `iot-ingest simulate`, for scripts and CI. When several apply, the first in this
// order wins: CONNECTION_FAILED, MISSING_READINGS, VERIFY_FAILED, BELOW_MIN_RATE.
export const EXIT_CODES = {
  OK: 0,
  /** An unexpected internal error (a bug): message on stderr. */
  INTERNAL_ERROR: 1,
  /** Invalid options or unreadable credentials/CA files: every problem listed on stderr. */
  USAGE: 2,
  /** --verify found acknowledged readings missing from the table. */
  MISSING_READINGS: 3,
  /** --min-rate was given and the achieved rate stayed below it. */
  BELOW_MIN_RATE: 4,
  /** No device could connect to the broker. */
  CONNECTION_FAILED: 5,
  /** --verify could not read the table (endpoint unreachable, table missing). */
  VERIFY_FAILED: 6,
  /** Stopped by Ctrl-C/SIGTERM before the run completed (the summary is still printed). */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

export const EXIT_CODE_HELP: ReadonlyArray<readonly [number, string]> = [
  [EXIT_CODES.OK, 'the run completed (and --verify found every acknowledged reading, --min-rate was met)'],
  [EXIT_CODES.INTERNAL_ERROR, 'unexpected internal error'],
  [EXIT_CODES.USAGE, 'invalid options (all of them are listed)'],
  [EXIT_CODES.MISSING_READINGS, '--verify: acknowledged readings are missing from the table'],
  [EXIT_CODES.BELOW_MIN_RATE, '--min-rate: the achieved rate was below it'],
  [EXIT_CODES.CONNECTION_FAILED, 'no device could connect to the broker'],
  [EXIT_CODES.VERIFY_FAILED, '--verify could not read the table'],
  [EXIT_CODES.INTERRUPTED, 'stopped by Ctrl-C/SIGTERM before the run completed (the summary is still printed)'],
];
