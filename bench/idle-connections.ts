// Idle MQTT connections for bench/scale.ts: opens N connections (CONNECT, wait for CONNACK), keeps
// them open without traffic, reports "connected" over IPC and closes them on "stop". Unlike the load
// generator it has no per-phase deadline: on a busy shared machine 10,000 connects may take minutes;
// the runner bounds the whole wait instead.
//   node --import tsx bench/idle-connections.ts --port 1883 --connections 10000
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { onParent, toParent } from './ipc.ts';
import { PACKET_TYPE, PacketReader, encodeConnect } from './mqtt-wire.ts';

const { values } = parseArgs({ options: { port: { type: 'string' }, connections: { type: 'string', default: '10000' }, prefix: { type: 'string', default: 'idle' } } });
const PORT = Number(values.port);
const TOTAL = Number(values.connections);
const PARALLEL = 100;
const sockets: Socket[] = [];

function open(index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: PORT });
    const reader = new PacketReader((type) => {
      if (type === PACKET_TYPE.CONNACK) resolve();
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.once('error', reject);
    socket.once('connect', () => socket.write(encodeConnect(`${values.prefix}-${index}`, 600)));
    sockets.push(socket);
  });
}

const started = performance.now();
let next = 0;
try {
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < TOTAL) await open(next++);
  }));
  toParent({ type: 'connected', connections: sockets.length, ms: performance.now() - started });
} catch (err) {
  toParent({ type: 'error', message: `after ${sockets.length} connections: ${(err as Error).message}` });
}
onParent((message) => {
  if (message.type === 'stop') {
    for (const s of sockets) s.destroy();
    process.exit(0);
  }
});
