// Everything a listener does with a new connection before aedes sees it, the same for every
// transport: take a slot from the connection gate (total and per-address limits), watch packet
// sizes in the inbound bytes (PacketFramer, before mqtt-packet buffers a body), bound what the
// broker buffers for a client that does not read, and record the connection's listener and
// address. Then aedes handles it.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Aedes, Client } from 'aedes';
import { identityOf } from '../acl.ts';
import type { Logger } from 'pino';
import { endWithConnack } from '../connack.ts';
import type { ConnectionGate } from '../limits/connection-gate.ts';
import type { LimitMetrics, ListenerName } from '../limits/limit-metrics.ts';
import { PacketFramer } from '../limits/packet-framer.ts';
import type { ReadGate } from '../limits/read-gate.ts';
import { setConnectionInfo } from './connection-info.ts';
import type { ConnectionInfo } from './connection-info.ts';

/** A CONNECT (client id, credentials, will) fits in this; larger first packets are refused. */
export const MAX_CONNECT_PACKET_BYTES = 64 * 1024;

export interface GuardDeps {
  readonly aedes: Aedes;
  readonly gate: ConnectionGate;
  readonly metrics: LimitMetrics;
  readonly log: Logger;
  readonly maxPacketBytes: number;
  readonly maxBufferedBytes: number;
  /** Time from accept to CONNECT; also bounds the TLS handshake and the WebSocket upgrade request. */
  readonly connectTimeoutMs: number;
  /** The TCP listener expects a PROXY protocol header (the device's address is in it). */
  readonly proxyProtocol: boolean;
  /** Open connections per listener (the gauge reads it). */
  readonly open: Map<ListenerName, number>;
  /** Every admitted raw socket, so that a close can end connections that never sent CONNECT. */
  readonly sockets: Set<Socket>;
  /** Stops reads while the broker holds its most messages (read-gate.ts); absent: never. */
  readonly readGate?: ReadGate;
}

const refusedAtAccept = new WeakSet<Socket>();

/** Whether the TLS socket over `tlsSocket`'s raw socket was closed by the gate (not a handshake failure). */
export function wasRefusedAtAccept(tlsSocket: Socket): boolean {
  const parent = (tlsSocket as Socket & { _parent?: Socket })._parent;
  return parent !== undefined && refusedAtAccept.has(parent);
}

type ReadFn = (size?: number) => unknown;
type WriteFn = (...args: unknown[]) => boolean;

/**
 * Takes a connection slot for a freshly accepted TCP socket (every listener, before any TLS or
 * HTTP work), or closes it at once. Returns false when refused.
 */
export function admitSocket(raw: Socket, listener: ListenerName, deps: GuardDeps, address: string = raw.remoteAddress ?? 'unknown'): boolean {
  const { gate, metrics } = deps;
  const refused = gate.admit(address);
  if (refused !== undefined) {
    metrics.limitHits.inc({ limit: refused });
    refusedAtAccept.add(raw);
    raw.destroy();
    return false;
  }
  deps.open.set(listener, (deps.open.get(listener) ?? 0) + 1);
  deps.sockets.add(raw);
  raw.once('close', () => {
    deps.sockets.delete(raw);
    gate.release(address);
    deps.open.set(listener, (deps.open.get(listener) ?? 1) - 1);
  });
  return true;
}

/** Hands an admitted MQTT byte stream to aedes, with the packet-size and buffered-bytes guards. */
export function attachToBroker(conn: Duplex, info: ConnectionInfo, deps: GuardDeps, req?: IncomingMessage): void {
  const { metrics } = deps;
  setConnectionInfo(conn, info);
  const framer = new PacketFramer(deps.maxPacketBytes, Math.min(deps.maxPacketBytes, MAX_CONNECT_PACKET_BYTES));
  const read = conn.read.bind(conn) as ReadFn;
  let refusedInput = false;
  // The read gate holds back only aedes' own reads (read(null); a stream's internal read(0) passes)
  // of a connection whose client is an authenticated device: a CONNECT is always read, and
  // applications (subscribers, command senders), which publish no telemetry, are never held.
  const aedesClient: { client?: Client } = {}; // set once aedes has the connection
  const readGate = deps.readGate;
  if (readGate !== undefined) conn.once('close', () => readGate.forget(conn));
  (conn as unknown as { read: ReadFn }).read = (size?: number): unknown => {
    if (refusedInput) return null;
    if (readGate !== undefined && (size === undefined || size === null) && identityOf(aedesClient.client)?.role === 'device' && !readGate.mayRead(conn)) return null;
    const chunk = read(size);
    if (!Buffer.isBuffer(chunk)) return chunk;
    const verdict = framer.feed(chunk);
    if (verdict.ok) return chunk;
    refusedInput = true;
    if (verdict.reason === 'packet_bytes') metrics.limitHits.inc({ limit: 'packet_bytes' });
    else metrics.protocolViolations.inc({ violation: verdict.reason });
    deps.log.debug({ address: info.remoteAddress, listener: info.listener, reason: verdict.reason }, 'connection closed by the packet framer');
    if (verdict.reason === 'protocol_level') endWithConnack(conn, 1, () => conn.destroy());
    else conn.destroy();
    return null;
  };

  const write = conn.write.bind(conn) as WriteFn;
  let overBuffered = false;
  (conn as unknown as { write: WriteFn }).write = (...args: unknown[]): boolean => {
    const result = write(...args);
    if (!overBuffered && conn.writableLength > deps.maxBufferedBytes) {
      overBuffered = true;
      metrics.limitHits.inc({ limit: 'buffered_bytes' });
      process.nextTick(() => conn.destroy());
    }
    return result;
  };

  aedesClient.client = deps.aedes.handle(conn as never, req as never);
}
