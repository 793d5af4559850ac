// mqtt-packet (the broker's parser and writer) calls `debug(...)` a few dozen times for every
// packet it reads or writes. With logging off, each call still builds its rest-argument array
// before `debug` finds out it is disabled: about 770 bytes of garbage per reading on the broker
// thread, and about a third of mqtt-packet's time per PUBLISH and PUBACK (bench/README.md, "Quiet
// debug loggers"). Before mqtt-packet is loaded, this module puts a factory in front of the `debug`
// module it resolves: a namespace enabled by `DEBUG` when the process starts gets the real logger,
// as before; any other gets a function that does nothing. The one difference: `debug.enable(...)`
// called later at run time does not wake loggers made silent (nothing in this service calls it).
import { createRequire } from 'node:module';

interface DebugLogger {
  (...args: unknown[]): void;
  enabled: boolean;
  namespace: string;
}
type DebugFactory = ((namespace: string) => DebugLogger) & { enabled(namespace: string): boolean };

const QUIET = Symbol.for('iot-ingest.quiet-debug');

export type QuietDebugState = 'installed' | 'already-installed' | 'too-late';

function silentLogger(factory: DebugFactory, namespace: string): DebugLogger {
  const logger = (() => {}) as unknown as DebugLogger & { extend(sub: string, delimiter?: string): DebugLogger };
  logger.enabled = false;
  logger.namespace = namespace;
  logger.extend = (sub, delimiter = ':') => factory(namespace + delimiter + sub);
  return logger;
}

/** Installs the quiet factory for the `debug` module mqtt-packet uses; says whether it came in time. */
export function installQuietDebug(): QuietDebugState {
  const requireHere = createRequire(import.meta.url);
  const packetEntry = requireHere.resolve('mqtt-packet');
  const requireFromPacket = createRequire(packetEntry);
  const debugPath = requireFromPacket.resolve('debug');
  const real = requireFromPacket('debug') as DebugFactory & { [QUIET]?: true };
  if (real[QUIET]) return 'already-installed';
  // Once mqtt-packet's modules are loaded, they hold the real loggers: nothing to gain any more.
  if (requireFromPacket.cache[requireFromPacket.resolve('./parser.js')] !== undefined) return 'too-late';
  const cached = requireFromPacket.cache[debugPath];
  if (cached === undefined) return 'too-late';
  const quiet = ((namespace: string) => (real.enabled(namespace) ? real(namespace) : silentLogger(quiet, namespace))) as DebugFactory & { [QUIET]?: true };
  // enable, disable, enabled, names, formatters...: read from the real module, so they stay live.
  Object.setPrototypeOf(quiet, real);
  quiet[QUIET] = true;
  cached.exports = quiet;
  return 'installed';
}

export const quietDebug: QuietDebugState = installQuietDebug();
