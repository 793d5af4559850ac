// `iot-ingest simulate`: the load simulator (simulator/), loaded only when asked for. It parses its
// own option table (simulator/optionSpecs.ts) with the shared parser and help formatter.
import type { CliCommand } from './command.ts';

export const simulateCommand: CliCommand = {
  async run(argv, io) {
    const { runSimulate } = await import('../../simulator/cli.ts');
    const wantsSignals = !argv.some((a) => a === '--help' || a === '-h' || a === '--version');
    return runSimulate([...argv], {
      stdout: io.stdout,
      stderr: io.stderr,
      env: io.env,
      isTTY: io.stderrIsTTY,
      ...(wantsSignals ? { signal: io.trapSignals() } : {}),
    });
  },
};
