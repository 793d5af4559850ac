// The CONNECT and SUBSCRIBE side of the identity contract (acl.ts) for authentication `none`: a
// client is the device named by its client id, unless it CONNECTs as one of the configured
// applications (username = name, password = secret), which makes it an `application`. SUBSCRIBE is
// granted per filter by `maySubscribe`; a refused filter gets SUBACK 0x80 and is counted. The
// per-listener authentication modes (password, mTLS) plug in before this and set the identity.
import { timingSafeEqual } from 'node:crypto';
import type { AedesOptions, AuthenticateError, Client } from 'aedes';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import { identityOf, maySubscribe, setIdentity } from './acl.ts';
import type { ClientIdentity } from './acl.ts';

type AuthenticateHandler = NonNullable<AedesOptions['authenticate']>;
type AuthorizeSubscribeHandler = NonNullable<AedesOptions['authorizeSubscribe']>;

/** `name:secret` pairs, comma separated (MQTT_APPLICATIONS / --application). */
export function parseApplications(list: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of (list ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = entry.indexOf(':');
    if (at > 0 && at < entry.length - 1) out.set(entry.slice(0, at), entry.slice(at + 1));
  }
  return out;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function createAuthenticate(applications: ReadonlyMap<string, string>): AuthenticateHandler {
  return (client, username, password, callback) => {
    const secret = username === undefined ? undefined : applications.get(username);
    if (secret !== undefined) {
      if (password === undefined || !sameSecret(password.toString(), secret)) {
        const err = Object.assign(new Error('bad user name or password'), { returnCode: 4 }) as AuthenticateError;
        return callback(err, false);
      }
      setIdentity(client, { role: 'application', id: username as string, via: 'password' });
      return callback(null, true);
    }
    setIdentity(client, { role: 'device', id: client.id, via: 'client_id' });
    callback(null, true);
  };
}

/** The identity used for rights: the one set at CONNECT, else the client id as a device. */
export function effectiveIdentity(client: Client): ClientIdentity {
  return identityOf(client) ?? { role: 'device', id: client.id, via: 'client_id' };
}

export function createAuthorizeSubscribe(registry: Registry, log: Logger): AuthorizeSubscribeHandler {
  const refused = new Counter({
    name: 'iot_ingest_subscriptions_refused_total',
    help: 'SUBSCRIBE filters refused (SUBACK 0x80) by reason: topic_invalid, not_own_topic, role.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of ['topic_invalid', 'not_own_topic', 'role']) refused.inc({ reason }, 0);
  const onRefused = (reason: string): void => refused.inc({ reason });
  return (client, sub, callback) => {
    if (client === null) return callback(null, sub);
    const decision = maySubscribe(effectiveIdentity(client), sub.topic);
    if (decision.allowed) return callback(null, sub);
    onRefused(decision.reason);
    log.debug({ clientId: client.id, filter: sub.topic, reason: decision.reason }, 'subscription refused');
    callback(null, null); // SUBACK 0x80 for this filter; the connection stays
  };
}
