// Which device a client acts as, for commands and presence: its identity (identity-hooks.ts,
// acl.ts) when it is a device; undefined for applications and before CONNECT.
import type { Client } from 'aedes';
import { effectiveIdentity } from './identity-hooks.ts';

export { effectiveIdentity };

export function deviceIdOf(client: Client): string | undefined {
  if (!client.id) return undefined;
  const identity = effectiveIdentity(client);
  return identity.role === 'device' ? identity.id : undefined;
}
