// mqtt-packet (the broker's parser and writer) calls `debug(...)` a few dozen times for every
// packet it reads or writes. With logging off, each call still builds its rest-argument array
// before `debug` finds out it is disabled: about 770 bytes of garbage per reading on the broker
// thread, and about a third of mqtt-packet's time per PUBLISH and PUBACK (bench/README.md, "Quiet
// debug loggers"). Before mqtt-packet is loaded, this module puts a factory in front of the `debug`
// module it resolves (the copy aedes' mqtt-packet uses, shared with the other packages that use
// `debug`): a namespace enabled by `DEBUG` when the process starts gets the real logger, as before;
// any other gets a function that does nothing. The factory is a proxy of the real module, so its
// API (enable, disable, log, formatters, ...) reads and writes the real one. The differences:
// `debug.enable(...)` called later at run time does not wake loggers made silent, nor does setting
// `.enabled` on one (nothing in this service does either); `DEBUG` at start is the switch.
import { createRequire } from 'node:module';

interface DebugLogger {
  (...args: unknown[]): void;
  enabled: boolean;
  namespace: string;
}
type DebugFactory = ((namespace: string) => DebugLogger) & { enabled(namespace: string): boolean };

const QUIET = Symbol.for('iot-ingest.quiet-debug');

export type QuietDebugState = 'installed' | 'already-installed' | 'too-late' | 'unavailable';

/** `require` as seen from the mqtt-packet that aedes uses (what it resolves `debug` and its own files with). */
export function requireFromMqttPacket(): NodeJS.Require {
  const requireFromAedes = createRequire(createRequire(import.meta.url).resolve('aedes'));
  return createRequire(requireFromAedes.resolve('mqtt-packet'));
}

const noop = (): void => {};

function silentLogger(factory: DebugFactory, namespace: string): DebugLogger {
  const logger = (() => {}) as unknown as DebugLogger & Record<string, unknown>;
  logger.enabled = false;
  logger.namespace = namespace;
  logger.useColors = false;
  logger.color = 0;
  logger.diff = 0;
  logger.log = noop;
  logger.destroy = noop;
  logger.extend = (sub: string, delimiter = ':') => factory(namespace + delimiter + sub);
  return logger;
}

/**
 * Installs the quiet factory for the `debug` module of the mqtt-packet that aedes uses; says whether
 * it came in time. Never throws: a module layout it does not know leaves everything as it was.
 */
export function installQuietDebug(): QuietDebugState {
  let real: DebugFactory;
  let cached: NodeJS.Module | undefined;
  let parserLoaded: boolean;
  try {
    const requireFromPacket = requireFromMqttPacket();
    real = requireFromPacket('debug') as DebugFactory;
    cached = requireFromPacket.cache[requireFromPacket.resolve('debug')];
    parserLoaded = requireFromPacket.cache[requireFromPacket.resolve('./parser.js')] !== undefined;
  } catch {
    return 'unavailable';
  }
  if ((real as unknown as Record<symbol, unknown>)[QUIET] === true) return 'already-installed';
  if (cached === undefined || typeof real !== 'function' || typeof real.enabled !== 'function') return 'unavailable';
  // Once mqtt-packet's modules are loaded, they hold the real loggers: nothing to gain any more.
  if (parserLoaded) return 'too-late';
  const quiet: DebugFactory = new Proxy(real, {
    apply: (target, _this, args: unknown[]) => {
      const namespace = String(args[0]);
      return target.enabled(namespace) ? target(namespace) : silentLogger(quiet, namespace);
    },
    // `require('debug').default(...)` and `.debug(...)` (the module's aliases of itself) go through here too.
    get: (target, key, receiver) => (key === QUIET ? true : key === 'default' || key === 'debug' ? receiver : Reflect.get(target, key)),
  });
  cached.exports = quiet;
  return 'installed';
}

export const quietDebug: QuietDebugState = installQuietDebug();
