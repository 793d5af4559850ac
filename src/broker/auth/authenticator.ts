// The seam between a listener's auth mode and how a CONNECT is checked: each mode is an
// Authenticator strategy, and aedes' authenticate hook picks the one of the listener the client
// came in on. A strategy answers with an identity (attached with setIdentity) or a refusal with
// the CONNACK code MQTT 3.1.1 uses for it (2 identifier rejected, 4 bad user name or password,
// 5 not authorized).
import type { AedesOptions, Client } from 'aedes';
import type { AuthMode } from '../../config/schema.ts';
import { IngestError } from '../../errors.ts';
import { identityOf, setIdentity } from '../acl.ts';
import type { ClientIdentity } from '../acl.ts';
import { connectionOf } from '../listeners/connection-info.ts';
import type { ConnectionInfo } from '../listeners/connection-info.ts';

export interface AuthRequest {
  readonly client: Client;
  readonly connection: ConnectionInfo;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
}

export type AuthOutcome =
  | { readonly ok: true; readonly identity: ClientIdentity }
  | { readonly ok: false; readonly returnCode: 2 | 4 | 5; readonly reason: string };

export interface Authenticator {
  authenticate(request: AuthRequest): Promise<AuthOutcome>;
}

export type AuthenticateHook = (client: Client, username: Readonly<string> | undefined, password: Readonly<Buffer> | undefined, done: (error: (Error & { returnCode?: number }) | null, success: boolean | null) => void) => void;

/** `none`: the identity is the client id (a device), with the same topic rights as any device. */
export const clientIdAuthenticator: Authenticator = {
  authenticate: async ({ client }) => ({ ok: true, identity: { role: 'device', id: client.id, via: 'client_id' } }),
};

/** An aedes-style authenticate hook as a strategy (it sets the identity itself, or refuses). */
export function fromAedesAuthenticate(hook: AuthenticateHook | NonNullable<AedesOptions['authenticate']>): Authenticator {
  return {
    authenticate: ({ client, username, password }) =>
      new Promise((resolve) => {
        (hook as AuthenticateHook)(client, username, password, (error, success) => {
          const identity = identityOf(client);
          if (!error && success && identity) return resolve({ ok: true, identity });
          const code = error?.returnCode;
          resolve({ ok: false, returnCode: code === 2 || code === 4 ? code : 5, reason: error?.message ?? 'refused' });
        });
      }),
  };
}

/** The aedes authenticate hook over one strategy per auth mode. */
export function createAuthenticateHook(strategies: Readonly<Partial<Record<AuthMode, Authenticator>>>, onRefused: (reason: string, connection: ConnectionInfo | undefined) => void = () => {}): AuthenticateHook {
  return (client, username, password, done) => {
    const connection = connectionOf(client.conn);
    const strategy = connection ? strategies[connection.auth] : undefined;
    if (connection === undefined || strategy === undefined) {
      onRefused('no_strategy', connection);
      return done(Object.assign(new IngestError('AUTH_FAILED', 'no authentication strategy for this listener'), { returnCode: 5 }), false);
    }
    strategy.authenticate({ client, connection, username: username ?? undefined, password: password ?? undefined }).then(
      (outcome) => {
        if (outcome.ok) {
          setIdentity(client, outcome.identity);
          return done(null, true);
        }
        onRefused(outcome.reason, connection);
        done(Object.assign(new IngestError('AUTH_FAILED', outcome.reason), { returnCode: outcome.returnCode }), false);
      },
      (err: Error) => {
        onRefused('error', connection);
        done(Object.assign(new IngestError('AUTH_FAILED', 'authentication failed', { cause: err }), { returnCode: 3 }), false);
      },
    );
  };
}
