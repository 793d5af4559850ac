// Where a client connects from. Behind a balancer with PROXY protocol the socket's peer is the
// balancer; the device's own address is in `client.connDetails` (set by the listener from the
// PROXY header, see proxy-protocol.ts). Per-IP limits, presence and logs ask here.
import type { Client } from 'aedes';
import type { ConnectionDetails } from 'aedes-protocol-decoder';

type WithDetails = Client & { connDetails?: ConnectionDetails | null };

/** The device's IP address: from the PROXY header when there was one, else the socket's peer. */
export function clientAddress(client: Client): string | undefined {
  const details = (client as WithDetails).connDetails;
  if (details?.ipAddress) return details.ipAddress;
  return (client.conn as { remoteAddress?: string } | undefined)?.remoteAddress;
}
