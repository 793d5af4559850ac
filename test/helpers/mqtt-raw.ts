// Raw MQTT bytes for protocol and hostile-input tests: packets built by hand (so they can be wrong
// on purpose) and a socket that records what the broker answers and when it closes.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { encodeRemainingLength } from '../../bench/mqtt-wire.ts';

/** MQTT's variable-length "remaining length": the bench generator's encoder. */
export const remainingLength = encodeRemainingLength;

/** A length-prefixed UTF-8 string field. */
export function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

export interface ConnectOptions {
  readonly clientId?: string;
  readonly level?: number;
  readonly clean?: boolean;
  readonly keepalive?: number;
}

export function connectPacket(o: ConnectOptions = {}): Buffer {
  const level = o.level ?? 4;
  const flags = (o.clean ?? true) ? 0x02 : 0x00;
  const keepalive = o.keepalive ?? 30;
  const props = level === 5 ? Buffer.from([0]) : Buffer.alloc(0); // MQTT 5: empty properties
  const body = Buffer.concat([str('MQTT'), Buffer.from([level, flags, keepalive >> 8, keepalive & 0xff]), props, str(o.clientId ?? 'raw-client')]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

export function publishPacket(topic: string | Buffer, payload: string | Buffer, qos: 0 | 1 | 2 | 3 = 0, packetId = 1): Buffer {
  const id = qos > 0 ? Buffer.from([packetId >> 8, packetId & 0xff]) : Buffer.alloc(0);
  const body = Buffer.concat([str(topic), id, typeof payload === 'string' ? Buffer.from(payload) : payload]);
  return Buffer.concat([Buffer.from([0x30 | (qos << 1)]), remainingLength(body.length), body]);
}

export interface RawSession {
  readonly socket: Socket;
  /** Every byte received so far. */
  received(): Buffer;
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

export function rawSession(port: number, first?: Buffer): Promise<RawSession> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let closedFlag = false;
    const closed = new Promise<void>((res) => socket.once('close', () => {
      closedFlag = true;
      res();
    }));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => {});
    socket.once('connect', () => {
      if (first) socket.write(first);
      resolve({ socket, received: () => Buffer.concat(chunks), closed, isClosed: () => closedFlag });
    });
    socket.once('error', reject);
  });
}

export const CONNACK_OK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
export const connack = (code: number): Buffer => Buffer.from([0x20, 0x02, 0x00, code]);
