// One strategy per auth mode behind one interface, so that a listener's mode picks how a CONNECT
// is checked: `none` (the client id is the device id), `password` (registry: username = device id,
// password = its secret) and `mtls` (the verified client certificate's CN). Application credentials
// are checked before any of them (auth.ts), in every mode.
import type { Client } from 'aedes';
import type { AuthMode, MtlsIdentity } from '../config/schema.ts';
import type { CredentialCache } from '../identity/cache.ts';
import type { ClientIdentity } from './acl.ts';
import type { AuthFailureReason } from './auth-metrics.ts';
import { createMtlsAuthenticator } from './auth/mtls.ts';
import type { DeviceAllowed } from './auth/mtls.ts';
import { connectionOf } from './listeners/connection-info.ts';

export interface ConnectAttempt {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  readonly sourceAddress: string;
  /** The client's transport stream: a TLSSocket on TLS listeners. */
  readonly conn: unknown;
}

export type AuthOutcome =
  | {
      readonly ok: true;
      readonly identity: ClientIdentity;
      /** The stored secret hash the password matched (password mode), so a sweep can tell when it stops being valid. */
      readonly matchedHash?: string | undefined;
      /** Whether the registry vouches for this identity (its connection is then re-checked by the revocation sweep). */
      readonly registered: boolean;
    }
  | { readonly ok: false; readonly reason: AuthFailureReason };

export interface Authenticator {
  readonly mode: AuthMode;
  authenticate(attempt: ConnectAttempt): Promise<AuthOutcome>;
}

/** The client-id rule for credentialed clients: equal to the identity, or `{id}:` followed by anything. */
export function clientIdMatches(clientId: string, id: string): boolean {
  return clientId === id || (clientId.length > id.length + 1 && clientId.startsWith(`${id}:`));
}

/** `none`: whoever connects is the device named by its client id (and may publish only as it). */
export function noneAuthenticator(): Authenticator {
  return {
    mode: 'none',
    authenticate: async (a) => ({ ok: true, identity: { role: 'device', id: a.clientId, via: 'client_id' }, registered: false }),
  };
}

/** `password`: username = device id, password = the secret `devices add` printed. */
export function passwordAuthenticator(cache: CredentialCache): Authenticator {
  return {
    mode: 'password',
    authenticate: async (a) => {
      if (a.username === undefined || a.username === '' || a.password === undefined) return { ok: false, reason: 'no_credentials' };
      const checked = await cache.check(a.username, a.password);
      if (!checked.ok) return { ok: false, reason: checked.reason };
      if (!clientIdMatches(a.clientId, a.username)) return { ok: false, reason: 'client_id_mismatch' };
      return { ok: true, identity: { role: 'device', id: a.username, via: 'password' }, matchedHash: checked.matchedHash, registered: true };
    },
  };
}

/**
 * `mtls`: the TLS listener has verified the certificate chain; the listener's strategy
 * (auth/mtls.ts) takes the device id from the certificate (CN or SAN URI) and checks the client-id
 * rule. A device the registry knows as revoked is refused; one it knows is re-checked by the sweep.
 */
export function certificateAuthenticator(cache: CredentialCache, options: { identity: MtlsIdentity; sanUriPrefix: string; deviceAllowed?: DeviceAllowed | undefined }): Authenticator {
  const allowed: DeviceAllowed = options.deviceAllowed ?? (async (id) => (await cache.lookup(id))?.status !== 'revoked');
  const mtls = createMtlsAuthenticator({ identity: options.identity, sanUriPrefix: options.sanUriPrefix, deviceAllowed: allowed });
  return {
    mode: 'mtls',
    authenticate: async (a) => {
      const connection = connectionOf(a.conn as object);
      if (connection === undefined) return { ok: false, reason: 'no_certificate' };
      const out = await mtls.authenticate({ client: { id: a.clientId } as Client, connection, username: a.username, password: a.password });
      if (!out.ok) return { ok: false, reason: out.reason === 'client_id_mismatch' ? 'client_id_mismatch' : out.reason === 'device_not_allowed' ? 'device_not_allowed' : 'no_certificate' };
      const record = await cache.lookup(out.identity.id);
      return { ok: true, identity: out.identity, registered: record !== undefined };
    },
  };
}
