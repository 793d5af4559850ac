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

export type QuietDebugState = 'installed' | 'already-installed' | 'too-late' | 'unavailable';

function silentLogger(factory: DebugFactory, namespace: string): DebugLogger {
  const logger = (() => {}) as unknown as DebugLogger & { extend(sub: string, delimiter?: string): DebugLogger };
  logger.enabled = false;
  logger.namespace = namespace;
  logger.extend = (sub, delimiter = ':') => factory(namespace + delimiter + sub);
  return logger;
}

/**
 * Installs the quiet factory for the `debug` module of the mqtt-packet that aedes uses; says whether
 * it came in time. Never throws: a module layout it does not know leaves everything as it was.
 */
export function installQuietDebug(): QuietDebugState {
  let real: DebugFactory & { [QUIET]?: true };
  let cached: NodeJS.Module | undefined;
  let parserLoaded: boolean;
  try {
    const requireFromAedes = createRequire(createRequire(import.meta.url).resolve('aedes'));
    const requireFromPacket = createRequire(requireFromAedes.resolve('mqtt-packet'));
    real = requireFromPacket('debug') as DebugFactory & { [QUIET]?: true };
    cached = requireFromPacket.cache[requireFromPacket.resolve('debug')];
    parserLoaded = requireFromPacket.cache[requireFromPacket.resolve('./parser.js')] !== undefined;
  } catch {
    return 'unavailable';
  }
  if (real[QUIET]) return 'already-installed';
  if (cached === undefined || typeof real.enabled !== 'function') return 'unavailable';
  // Once mqtt-packet's modules are loaded, they hold the real loggers: nothing to gain any more.
  if (parserLoaded) return 'too-late';
  const quiet = ((namespace: string) => (real.enabled(namespace) ? real(namespace) : silentLogger(quiet, namespace))) as DebugFactory & { [QUIET]?: true };
  // enable, disable, enabled, names, formatters...: read from the real module, so they stay live.
  Object.setPrototypeOf(quiet, real);
  quiet[QUIET] = true;
  cached.exports = quiet;
  return 'installed';
}

export const quietDebug: QuietDebugState = installQuietDebug();
