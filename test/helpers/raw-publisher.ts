// Raw MQTT 3.1.1 over a TCP socket, for floods that mqtt.js would pace or refuse to send: CONNECT
// and QoS 0 PUBLISH packets built by hand, written as fast as the socket drains.
import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import { remainingLength, str as utf8Field } from './mqtt-raw.ts';

/** CONNECT with a clean session and no credentials. */
export function connectPacket(clientId: string, keepaliveSeconds = 60): Buffer {
  const body = Buffer.concat([
    Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, keepaliveSeconds >> 8, keepaliveSeconds & 0xff]),
    utf8Field(clientId),
  ]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

/** PUBLISH at QoS 0 (no packet id). */
export function publishQos0Packet(topic: string, payload: Buffer): Buffer {
  const t = utf8Field(topic);
  return Buffer.concat([Buffer.from([0x30]), remainingLength(t.length + payload.length), t, payload]);
}

export interface RawClient {
  readonly socket: Socket;
  readonly closed: Promise<void>;
}

/** Opens a TCP connection, sends CONNECT and resolves after a CONNACK that accepts it. */
export async function rawConnect(port: number, clientId: string, keepaliveSeconds = 60): Promise<RawClient> {
  const socket = tcpConnect(port, '127.0.0.1');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('data', (d: Buffer) => (d[0] === 0x20 && d[3] === 0 ? resolve() : reject(new Error(`no CONNACK: ${d.toString('hex')}`))));
    socket.once('close', () => reject(new Error('closed before CONNACK')));
    socket.write(connectPacket(clientId, keepaliveSeconds));
  });
  return { socket, closed };
}

/**
 * Writes `packet` again and again while the socket drains, until `count` packets were written or
 * `untilMs` (epoch ms) has passed. Resolves with the number of whole packets handed to the socket.
 */
export async function floodSocket(socket: Socket, packet: Buffer, count: number, untilMs: number): Promise<number> {
  let written = 0;
  while (written < count && Date.now() < untilMs && !socket.destroyed) {
    written++;
    if (!socket.write(packet)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.once('drain', done);
        socket.once('close', done);
      });
    }
  }
  return written;
}
