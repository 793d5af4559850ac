// Standalone entry for development: `npx tsx simulator/main.ts --help`. The product entry is
// `iot-ingest simulate` (src/main.ts), which calls the same runSimulate.
import { runSimulate } from './cli.ts';

const controller = new AbortController();
let interrupts = 0;
const onSignal = (): void => {
  interrupts += 1;
  if (interrupts > 1) process.exit(130);
  controller.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const code = await runSimulate(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  isTTY: Boolean(process.stderr.isTTY),
  signal: controller.signal,
});
process.exit(code);
