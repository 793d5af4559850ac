// Puts the identity pieces together for the service: the registry-backed credential cache, the
// authenticators per mode, lock-out, takeover guard, audit log, the aedes hooks (authenticate,
// authorizeSubscribe, the publish hook's denial counter) and the revocation sweep.
import type { Aedes, Client } from 'aedes';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ServeConfig } from '../config/schema.ts';
import { CredentialCache } from '../identity/cache.ts';
import type { DeviceRegistry } from '../identity/registry.ts';
import type { DisconnectReason } from '../metrics/registry.ts';
import { identityOf } from './acl.ts';
import { createAclAudit } from './acl-audit.ts';
import { loadApplications } from './applications.ts';
import { createAuthenticateHook, registeredCredentialOf } from './auth.ts';
import type { AuthenticateHook } from './auth.ts';
import { SourceLockout } from './auth-lockout.ts';
import { ThrottledAuthLog } from './auth-log.ts';
import { createAuthMetrics } from './auth-metrics.ts';
import type { AclReason, AuthMetrics } from './auth-metrics.ts';
import { certificateAuthenticator, noneAuthenticator, passwordAuthenticator } from './authenticators.ts';
import type { DeviceAllowed } from './auth/mtls.ts';
import { RevocationSweep } from './revocation-sweep.ts';
import { createSubscribeHook } from './subscribe-hook.ts';
import type { AuthorizeSubscribe } from './subscribe-hook.ts';
import { TakeoverGuard } from './takeover.ts';

export type SecurityConfig = Pick<
  ServeConfig,
  'auth' | 'mtlsIdentity' | 'mtlsSanUriPrefix' | 'applications' | 'applicationsFile' | 'authCacheTtlMs' | 'authCacheMaxEntries' | 'authMaxPendingHashChecks' | 'authFailuresBeforeLockout' | 'authLockoutBaseMs' | 'authLockoutMaxMs' | 'takeoverIntervalMs'
>;

export interface BrokerSecurity {
  readonly metrics: AuthMetrics;
  readonly cache: CredentialCache;
  readonly authenticate: AuthenticateHook;
  readonly authorizeSubscribe: AuthorizeSubscribe;
  readonly onPublishDenied: (client: Client, topic: string, reason: AclReason) => void;
  /** Connects the revocation sweep and the takeover check to a running broker. */
  attach(aedes: Aedes, mark: (client: Client, reason: DisconnectReason) => void): void;
  stop(): void;
}

export function createBrokerSecurity(config: SecurityConfig, deps: { registry: DeviceRegistry; promRegistry: Registry; log: Logger; deviceAllowed?: DeviceAllowed | undefined }): BrokerSecurity {
  const { log } = deps;
  const metrics = createAuthMetrics(deps.promRegistry);
  const applications = loadApplications(config.applications, config.applicationsFile);
  const cache = new CredentialCache({
    registry: deps.registry,
    ttlMs: config.authCacheTtlMs,
    maxEntries: config.authCacheMaxEntries,
    maxPendingHashChecks: config.authMaxPendingHashChecks,
    metrics,
  });
  const lockout = new SourceLockout({ threshold: config.authFailuresBeforeLockout, baseMs: config.authLockoutBaseMs, maxMs: config.authLockoutMaxMs });
  const auditLog = new ThrottledAuthLog(log);
  const aclAudit = createAclAudit(metrics, auditLog);
  let clients: Record<string, Client> = {};
  let sweep: RevocationSweep<Client> | undefined;
  metrics.setGauges({
    cachedRecords: () => cache.size.records,
    cachedVerifications: () => cache.size.verified,
    pendingHashChecks: () => cache.size.pendingHashChecks,
    lockedOutSources: () => lockout.lockedCount(),
  });

  const authenticate = createAuthenticateHook({
    defaultMode: config.auth,
    authenticators: { none: noneAuthenticator(), password: passwordAuthenticator(cache), mtls: certificateAuthenticator(cache, { identity: config.mtlsIdentity, sanUriPrefix: config.mtlsSanUriPrefix, deviceAllowed: deps.deviceAllowed }) },
    applications,
    lockout,
    takeover: new TakeoverGuard(config.takeoverIntervalMs),
    metrics,
    auditLog,
    log,
    liveIdentity: (clientId) => {
      const live = clients[clientId];
      return live && !live.closed ? identityOf(live) : undefined;
    },
  });

  return {
    metrics,
    cache,
    authenticate,
    authorizeSubscribe: createSubscribeHook(aclAudit),
    onPublishDenied: (client, topic, reason) => aclAudit('publish', client, topic, reason),
    attach(aedes, mark) {
      clients = (aedes as unknown as { clients: Record<string, Client> }).clients;
      const running = new RevocationSweep<Client>({
        cache,
        intervalMs: config.authCacheTtlMs,
        metrics,
        log,
        close: (client) => {
          mark(client, 'forbidden');
          client.close();
        },
      });
      aedes.on('client', (client) => {
        const credential = registeredCredentialOf(client);
        if (credential) running.track(client, credential);
      });
      aedes.on('clientDisconnect', (client) => {
        const credential = registeredCredentialOf(client);
        if (credential) running.untrack(client, credential);
      });
      running.start();
      sweep = running;
      if (applications.size > 0) log.info({ applications: applications.size }, 'application credentials loaded');
    },
    stop: () => sweep?.stop(),
  };
}
