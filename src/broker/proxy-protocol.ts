// PROXY protocol (v1 text, v2 binary) on the MQTT listener, for replicas behind HAProxy
// (`send-proxy-v2`): the balancer prefixes each connection with the device's address, so per-IP
// limits and logs see the device instead of the balancer. Only used when configured
// (--proxy-protocol): a listener that trusted the header from anyone would let any client claim any
// address. Parsing is aedes-protocol-decoder's (proxy-protocol-js underneath); this module only
// waits until the whole header has arrived, bounds it, and hands the rest of the bytes back.
import type { Socket } from 'node:net';
import { protocolDecoder } from 'aedes-protocol-decoder';
import type { ConnectionDetails } from 'aedes-protocol-decoder';
import { IngestError } from '../errors.ts';

const V1_SIGNATURE = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
/** v1 lines are at most 107 bytes; v2 carries a 16-byte header and up to 65,535 bytes of addresses and TLVs. */
const V1_MAX_BYTES = 107;
const V2_MAX_BYTES = 16 + 65_535;

/** Bytes of a complete header at the start of `buf`; 0 = need more; -1 = not a PROXY header. */
export function proxyHeaderLength(buf: Buffer): number {
  const v1 = buf.subarray(0, V1_SIGNATURE.length);
  const v2 = buf.subarray(0, V2_SIGNATURE.length);
  if (V1_SIGNATURE.subarray(0, v1.length).equals(v1)) {
    const end = buf.indexOf('\r\n', 0, 'latin1');
    if (end >= 0) return end + 2 <= V1_MAX_BYTES ? end + 2 : -1;
    return buf.length >= V1_MAX_BYTES ? -1 : 0;
  }
  if (V2_SIGNATURE.subarray(0, v2.length).equals(v2)) {
    if (buf.length < 16) return 0;
    const total = 16 + buf.readUInt16BE(14);
    return buf.length >= total && total <= V2_MAX_BYTES ? total : 0;
  }
  return -1;
}

/** The client's address as the PROXY header gives it; for v2 LOCAL (balancer health checks) the socket's own. */
export interface ProxiedConnection {
  readonly connDetails: ConnectionDetails;
}

/**
 * Reads the PROXY header from a fresh socket, puts back whatever followed it, and resolves with the
 * connection details (aedes assigns `req.connDetails` to `client.connDetails`). Rejects when the
 * first bytes are not a PROXY header or it does not complete within `timeoutMs`.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<ProxiedConnection> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const finish = (err: Error | undefined, value?: ProxiedConnection, rest?: Buffer): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (rest !== undefined && rest.length > 0) socket.unshift(rest);
      if (err) reject(err);
      else resolve(value as ProxiedConnection);
    };
    const timer = setTimeout(() => finish(new IngestError('PROXY_HEADER_INVALID', `no PROXY protocol header within ${timeoutMs} ms`)), timeoutMs);
    const onClose = (): void => finish(new IngestError('PROXY_HEADER_INVALID', 'connection closed before the PROXY protocol header'));
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const length = proxyHeaderLength(buffered);
      if (length === 0) return;
      if (length < 0) return finish(new IngestError('PROXY_HEADER_INVALID', 'the connection did not start with a PROXY protocol header'));
      const header = buffered.subarray(0, length);
      const details = protocolDecoder(socket, header);
      if (details.isProxy === 0 && !isV2Local(header)) {
        return finish(new IngestError('PROXY_HEADER_INVALID', 'unreadable PROXY protocol header'));
      }
      delete details.data;
      finish(undefined, { connDetails: details }, buffered.subarray(length));
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** v2 LOCAL command (version 2, command 0): the balancer's own connection, e.g. a health check. */
function isV2Local(header: Buffer): boolean {
  return header.length >= 16 && V2_SIGNATURE.equals(header.subarray(0, 12)) && (header[12] as number) === 0x20;
}
