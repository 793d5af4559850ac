// Application credentials (DESIGN.md / the identity contract): a configured list of name:secret
// pairs. A client that CONNECTs with username = an application's name and its secret as password
// acts as {role: 'application'}; a wrong secret is refused (CONNACK 4). Everyone else is left to
// device authentication (with `none`, the client id names the device).
import { timingSafeEqual } from 'node:crypto';
import type { AuthenticateError, Client } from 'aedes';
import { setIdentity } from './acl.ts';

export interface ApplicationCredential {
  readonly name: string;
  readonly secret: string;
}

/** Parses "name:secret,name2:secret2"; throws naming the bad entry. */
export function parseApplications(text: string): ApplicationCredential[] {
  return text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0)
    .map((entry) => {
      const i = entry.indexOf(':');
      const name = entry.slice(0, i);
      const secret = entry.slice(i + 1);
      if (i <= 0 || !/^[A-Za-z0-9_.-]{1,64}$/.test(name) || secret.length < 8) {
        throw new Error(`"${i > 0 ? `${name}:***` : '***'}" must be name:secret (name 1-64 chars of [A-Za-z0-9_.-], secret at least 8 characters)`);
      }
      return { name, secret };
    });
}

export type Authenticate = (client: Client, username: Readonly<string> | undefined, password: Readonly<Buffer> | undefined, done: (err: AuthenticateError | null, ok: boolean | null) => void) => void;

export function createApplicationAuthenticate(applications: readonly ApplicationCredential[]): Authenticate {
  const byName = new Map(applications.map((a) => [a.name, Buffer.from(a.secret)]));
  return (client, username, password, done) => {
    const secret = username === undefined ? undefined : byName.get(username);
    if (secret === undefined) return done(null, true);
    const given = password ?? Buffer.alloc(0);
    if (given.length === secret.length && timingSafeEqual(given, secret)) {
      setIdentity(client, { role: 'application', id: username as string, via: 'password' });
      return done(null, true);
    }
    const err = Object.assign(new Error('bad application name or secret'), { returnCode: 4 as const });
    done(err, false);
  };
}
