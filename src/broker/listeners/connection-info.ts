// What the broker knows about a connection beyond its byte stream: which listener accepted it, the
// auth mode that listener uses, the source address, and the TLS socket (for the client
// certificate) when there is one. Keyed by the stream aedes was handed (a socket or a WebSocket
// duplex), so hooks that get `client.conn` can look it up.
import type { TLSSocket } from 'node:tls';
import type { AuthMode } from '../../config/schema.ts';
import type { ListenerName } from '../limits/limit-metrics.ts';

export interface ConnectionInfo {
  readonly listener: ListenerName;
  readonly auth: AuthMode;
  readonly remoteAddress: string;
  /** The TLS socket under the MQTT stream (tls, wss); undefined for tcp and ws. */
  readonly tlsSocket: TLSSocket | undefined;
}

const infos = new WeakMap<object, ConnectionInfo>();

export function setConnectionInfo(conn: object, info: ConnectionInfo): void {
  infos.set(conn, info);
}

export function connectionOf(conn: object | null | undefined): ConnectionInfo | undefined {
  return conn ? infos.get(conn) : undefined;
}
