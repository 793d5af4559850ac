// Writes a refusing CONNACK straight to a connection and closes it once the bytes are flushed. Used
// where aedes' own hooks would close without one (preConnect) or never see the CONNECT (a protocol
// level its parser refuses). A CONNACK is the same four bytes in MQTT 3.1 and 3.1.1.
import type { Client } from 'aedes';
import type { Duplex } from 'node:stream';
import { IngestError } from '../errors.ts';

export type ConnackCode = 1 | 2 | 3 | 4 | 5;

/** Sends CONNACK `code` on `conn` and ends it; `then` runs once the bytes are handed to the socket. */
export function endWithConnack(conn: Duplex, code: ConnackCode, then: () => void = () => {}): void {
  if (conn.destroyed || !conn.writable) return then();
  conn.end(Buffer.from([0x20, 0x02, 0x00, code]), then);
}

export function refuseWithConnack(client: Client, code: ConnackCode, message: string, callback: (error: Error | null, success: boolean) => void): void {
  endWithConnack(client.conn as unknown as Duplex, code, () => callback(new IngestError('PROTOCOL_VIOLATION', message), false));
}
