// aedes' `authenticate` hook: who is connecting. In order: a source address locked out after
// failed attempts is refused at once; a username naming an application is checked against the
// application credentials; anything else goes to the strategy of the listener's auth mode
// (authenticators.ts). A session takeover must come from the same identity and is rate-limited.
// Every refusal is counted by reason and logged at most once per subject per interval.
import type { Client } from 'aedes';
import type { Logger } from 'pino';
import type { AuthMode } from '../config/schema.ts';
import { setIdentity } from './acl.ts';
import { connectionOf } from './listeners/connection-info.ts';
import type { ClientIdentity } from './acl.ts';
import type { ApplicationCredentials } from './applications.ts';
import type { SourceLockout } from './auth-lockout.ts';
import type { ThrottledAuthLog } from './auth-log.ts';
import type { AuthFailureReason, AuthMetrics } from './auth-metrics.ts';
import type { AuthOutcome, Authenticator, ConnectAttempt } from './authenticators.ts';
import type { TakeoverGuard } from './takeover.ts';

export type AuthenticateDone = (error: (Error & { returnCode: number }) | null, success: boolean | null) => void;
export type AuthenticateHook = (client: Client, username: string | undefined, password: Buffer | undefined, done: AuthenticateDone) => void;

/** What the revocation sweep needs to know about a connection authenticated against the registry. */
export interface RegisteredCredential {
  readonly deviceId: string;
  readonly matchedHash: string | undefined;
}

const credentials = new WeakMap<Client, RegisteredCredential>();

export function registeredCredentialOf(client: Client): RegisteredCredential | undefined {
  return credentials.get(client);
}

/** The client's source address: from a PROXY protocol header when there was one, else the socket's (or the WebSocket request's). */
export function sourceAddressOf(client: Client): string {
  const fromListener = connectionOf(client.conn)?.remoteAddress;
  if (fromListener) return fromListener;
  const proxied = (client.req as { connDetails?: { ipAddress?: string } } | undefined)?.connDetails?.ipAddress;
  const conn = client.conn as { remoteAddress?: string } | undefined;
  return proxied ?? conn?.remoteAddress ?? client.req?.socket?.remoteAddress ?? 'unknown';
}

/** MQTT 3.1.1 CONNACK codes: 2 identifier rejected, 3 server unavailable, 4 bad user name or password, 5 not authorized. */
const RETURN_CODES: Record<AuthFailureReason, 2 | 3 | 4 | 5> = {
  no_credentials: 4,
  unknown_device: 4,
  bad_secret: 4,
  // Same code as a wrong secret: a refusal does not tell a stranger which device ids exist.
  revoked: 4,
  bad_application_secret: 4,
  client_id_mismatch: 2,
  no_certificate: 5,
  device_not_allowed: 5,
  locked_out: 5,
  takeover_denied: 2,
  takeover_rate: 3,
  busy: 3,
  registry_unavailable: 3,
};

/** Failures that say something about the credentials (and count towards a lock-out). */
const COUNTS_TOWARDS_LOCKOUT = new Set<AuthFailureReason>(['no_credentials', 'unknown_device', 'bad_secret', 'revoked', 'bad_application_secret', 'client_id_mismatch', 'no_certificate', 'device_not_allowed', 'takeover_denied']);

export interface AuthenticateDeps {
  readonly defaultMode: AuthMode;
  readonly authenticators: Readonly<Partial<Record<AuthMode, Authenticator>>>;
  readonly applications: ApplicationCredentials;
  readonly lockout: SourceLockout;
  readonly takeover: TakeoverGuard;
  readonly metrics: AuthMetrics;
  readonly auditLog: ThrottledAuthLog;
  readonly log: Logger;
  /** The identity of the live connection holding a client id, if any. */
  readonly liveIdentity: (clientId: string) => ClientIdentity | undefined;
}

export function createAuthenticateHook(deps: AuthenticateDeps): AuthenticateHook {
  const { metrics } = deps;

  async function decide(attempt: ConnectAttempt): Promise<AuthOutcome> {
    if (deps.lockout.lockedForMs(attempt.sourceAddress) > 0) return { ok: false, reason: 'locked_out' };
    if (attempt.username !== undefined && deps.applications.has(attempt.username)) {
      const name = attempt.username;
      if (attempt.password === undefined || !deps.applications.verify(name, attempt.password)) return { ok: false, reason: 'bad_application_secret' };
      return { ok: true, identity: { role: 'application', id: name, via: 'password' }, registered: false };
    }
    // The mode of the listener the client came in on (listeners/connection-info.ts), else the default.
    const mode = connectionOf(attempt.conn as object)?.auth ?? deps.defaultMode;
    const authenticator = deps.authenticators[mode];
    if (!authenticator) return { ok: false, reason: 'no_certificate' };
    try {
      return await authenticator.authenticate(attempt);
    } catch (err) {
      deps.log.warn({ err, clientId: attempt.clientId }, 'device registry unavailable: CONNECT refused with "server unavailable"');
      return { ok: false, reason: 'registry_unavailable' };
    }
  }

  function takeoverRefusal(clientId: string, identity: ClientIdentity): AuthFailureReason | undefined {
    const decision = deps.takeover.decide(clientId, deps.liveIdentity(clientId), identity);
    if (decision === 'denied') return 'takeover_denied';
    if (decision === 'rate_limited') return 'takeover_rate';
    return undefined;
  }

  function refuse(attempt: ConnectAttempt, reason: AuthFailureReason, done: AuthenticateDone): void {
    metrics.failures.inc({ reason });
    let lockedForMs = 0;
    if (COUNTS_TOWARDS_LOCKOUT.has(reason)) lockedForMs = deps.lockout.recordFailure(attempt.sourceAddress);
    const subject = attempt.username || attempt.clientId;
    deps.auditLog.warn(subject, { reason, username: attempt.username, clientId: attempt.clientId, source: attempt.sourceAddress, ...(lockedForMs > 0 ? { lockedForMs } : {}) }, 'authentication refused');
    const error = Object.assign(new Error(`authentication refused: ${reason}`), { returnCode: RETURN_CODES[reason] });
    done(error, false);
  }

  return function authenticate(client, username, password, done) {
    const attempt: ConnectAttempt = { clientId: client.id, username, password, sourceAddress: sourceAddressOf(client), conn: client.conn };
    void decide(attempt).then((outcome) => {
      if (!outcome.ok) return refuse(attempt, outcome.reason, done);
      const takeover = takeoverRefusal(client.id, outcome.identity);
      if (takeover) return refuse(attempt, takeover, done);
      setIdentity(client, outcome.identity);
      if (outcome.registered) credentials.set(client, { deviceId: outcome.identity.id, matchedHash: outcome.matchedHash });
      metrics.successes.inc({ method: outcome.identity.role === 'application' ? 'application' : outcome.identity.via });
      done(null, true);
    });
  };
}
