// mqtt-packet's loggers are silent unless DEBUG enabled them when the process started: the broker
// module installs the quiet factory before aedes loads mqtt-packet. Run in child processes, since
// the point is what happens when modules are first loaded; the child loads the service module (what
// `serve` and a `--workers` worker load), so an earlier import of aedes anywhere on that path fails it.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;

/** Loads the service module, then parses one PUBLISH with the mqtt-packet that aedes uses. */
const SCRIPT = `
await import('./src/service.ts');
const { quietDebug, requireFromMqttPacket } = await import('./src/broker/quiet-debug.ts');
const fromPacket = requireFromMqttPacket();
const mqtt = fromPacket('./mqtt.js');
const debug = fromPacket('debug');
if (process.argv[1] === 'enable-later') debug.enable('mqtt-packet:*');
// Assignments reach the real module: a real logger writes through the module's \`log\` it finds there.
const { format } = await import('node:util');
debug.log = (...args) => process.stderr.write('via-log ' + format(...args) + '\\n');
const parser = mqtt.parser({ protocolVersion: 4 });
let packets = 0;
parser.on('packet', () => packets++);
parser.parse(mqtt.generate({ cmd: 'publish', topic: 'devices/d1/telemetry', qos: 1, messageId: 7, payload: Buffer.from('{"t":1}') }));
// The module's aliases of itself are the factory.
console.log(JSON.stringify({ quietDebug, packets, parserEnabled: debug('mqtt-packet:parser').enabled, otherEnabled: debug('other:thing').enabled, aliases: debug.default === debug && debug.debug === debug, silentApi: typeof debug('x:y').extend('z').destroy }));
`;

function run(env: Record<string, string | undefined>, arg = 'plain'): { out: Record<string, unknown>; stderr: string } {
  const { DEBUG: _drop, ...base } = process.env;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT, arg], { cwd: ROOT, env: { ...base, ...env }, encoding: 'utf8', timeout: 30_000 });
  expect(r.status, r.stderr).toBe(0);
  return { out: JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>, stderr: r.stderr };
}

describe('quiet debug loggers for mqtt-packet', () => {
  it('installs before mqtt-packet loads: loggers not enabled at start stay silent even if enabled later', () => {
    const { out, stderr } = run({}, 'enable-later');
    expect(out).toEqual({ quietDebug: 'installed', packets: 1, parserEnabled: true, otherEnabled: false, aliases: true, silentApi: 'function' });
    // The parser's own loggers were made silent when it loaded: enabling the namespace later does not wake them.
    expect(stderr).not.toContain('mqtt-packet:parser');
  });

  it('keeps the real loggers of namespaces DEBUG enables at start', () => {
    const { out, stderr } = run({ DEBUG: 'mqtt-packet:parser' });
    expect(out).toMatchObject({ quietDebug: 'installed', packets: 1, parserEnabled: true, otherEnabled: false });
    expect(stderr).toContain('mqtt-packet:parser');
    expect(stderr).toContain('_parsePublish');
    expect(stderr).toMatch(/^via-log .*mqtt-packet:parser/m);
  });
});
