// The identity a client acts under: the one the authentication step attached (acl.ts), or, where
// none was attached (authentication `none`), the device named by its client id, as DESIGN.md
// specifies for that mode.
import type { Client } from 'aedes';
import { identityOf } from './acl.ts';
import type { ClientIdentity } from './acl.ts';

export function effectiveIdentity(client: Client): ClientIdentity | undefined {
  const attached = identityOf(client);
  if (attached) return attached;
  return client.id ? { role: 'device', id: client.id, via: 'client_id' } : undefined;
}

/** The device id of a client acting as a device; undefined for applications and before CONNECT. */
export function deviceIdOf(client: Client): string | undefined {
  const identity = effectiveIdentity(client);
  return identity?.role === 'device' ? identity.id : undefined;
}
