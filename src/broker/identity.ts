// Which device a client acts as, for commands and presence: its identity (set at CONNECT by
// auth.ts, acl.ts) when it is a device; undefined for applications and before CONNECT.
import type { Client } from 'aedes';
import { identityOf } from './acl.ts';
import type { ClientIdentity } from './acl.ts';

/** The identity used for rights: the one set at CONNECT, else the client id as a device. */
export function effectiveIdentity(client: Client): ClientIdentity {
  return identityOf(client) ?? { role: 'device', id: client.id, via: 'client_id' };
}

export function deviceIdOf(client: Client): string | undefined {
  if (!client.id) return undefined;
  const identity = effectiveIdentity(client);
  return identity.role === 'device' ? identity.id : undefined;
}
