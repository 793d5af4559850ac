// Metrics of authentication and access control, owned here and registered on the service's
// registry. Reasons are fixed lists so every series exists from the start; no label holds a device.
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

export const AUTH_FAILURE_REASONS = [
  'no_credentials',
  'unknown_device',
  'bad_secret',
  'revoked',
  'client_id_mismatch',
  'bad_application_secret',
  'no_certificate',
  'device_not_allowed',
  'locked_out',
  'takeover_denied',
  'takeover_rate',
  'busy',
  'registry_unavailable',
] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

export const AUTH_METHODS = ['client_id', 'password', 'certificate', 'application'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

export const ACL_ACTIONS = ['publish', 'subscribe'] as const;
export type AclAction = (typeof ACL_ACTIONS)[number];
export const ACL_REASONS = ['topic_invalid', 'not_own_topic', 'role', 'no_identity'] as const;
export type AclReason = (typeof ACL_REASONS)[number];

export const REVOCATION_REASONS = ['revoked', 'removed', 'secret_expired'] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

export interface AuthGauges {
  readonly cachedRecords: () => number;
  readonly cachedVerifications: () => number;
  readonly pendingHashChecks: () => number;
  readonly lockedOutSources: () => number;
}

export interface AuthMetrics {
  readonly successes: Counter<'method'>;
  readonly failures: Counter<'reason'>;
  readonly aclDenials: Counter<'action' | 'reason'>;
  readonly cacheLookups: Counter<'result'>;
  readonly registryRequests: Counter;
  readonly hashChecks: Counter;
  readonly revocationDisconnects: Counter<'reason'>;
  /** Sets where the point-in-time gauges read from (the cache and lock-out exist after the metrics). */
  setGauges(gauges: AuthGauges): void;
}

export function createAuthMetrics(registry: Registry): AuthMetrics {
  const registers = [registry];
  let gauges: AuthGauges | undefined;
  const successes = new Counter({ name: 'iot_ingest_auth_successes_total', help: 'CONNECTs accepted, by how the client was identified.', labelNames: ['method'], registers });
  const failures = new Counter({ name: 'iot_ingest_auth_failures_total', help: 'CONNECTs refused by authentication, by reason.', labelNames: ['reason'], registers });
  const aclDenials = new Counter({ name: 'iot_ingest_acl_denials_total', help: 'PUBLISHes (connection closed) and SUBSCRIBE filters (SUBACK 0x80) refused by the topic rights, by action and reason.', labelNames: ['action', 'reason'], registers });
  const cacheLookups = new Counter({ name: 'iot_ingest_auth_cache_lookups_total', help: 'Device registry lookups at CONNECT, by whether the credential cache answered (hit) or the table was read (miss).', labelNames: ['result'], registers });
  const registryRequests = new Counter({ name: 'iot_ingest_auth_registry_requests_total', help: 'Read requests (BatchGetItem) to the devices table made by authentication and the revocation sweep.', registers });
  const hashChecks = new Counter({ name: 'iot_ingest_auth_hash_checks_total', help: 'scrypt verifications run (cache misses of the verified-secret cache).', registers });
  const revocationDisconnects = new Counter({ name: 'iot_ingest_auth_revocation_disconnects_total', help: 'Live connections closed because their device was revoked, removed, or its old secret expired after a rotation.', labelNames: ['reason'], registers });
  const gauge = (name: string, help: string, read: (g: AuthGauges) => number, labelNames: string[] = []): Gauge =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect(this: Gauge) {
        if (gauges) this.set(read(gauges));
      },
    });
  gauge('iot_ingest_auth_cache_records', 'Device records held by the credential cache (bounded by --auth-cache-max-entries).', (g) => g.cachedRecords());
  gauge('iot_ingest_auth_cache_verified_secrets', 'Verified-secret results held by the credential cache (bounded by --auth-cache-max-entries).', (g) => g.cachedVerifications());
  gauge('iot_ingest_auth_hash_checks_pending', 'scrypt verifications queued or running (bounded; past the bound CONNECTs are refused as busy).', (g) => g.pendingHashChecks());
  gauge('iot_ingest_auth_locked_out_sources', 'Source addresses currently locked out after failed authentications.', (g) => g.lockedOutSources());

  for (const reason of AUTH_FAILURE_REASONS) failures.inc({ reason }, 0);
  for (const method of AUTH_METHODS) successes.inc({ method }, 0);
  for (const action of ACL_ACTIONS) for (const reason of ACL_REASONS) aclDenials.inc({ action, reason }, 0);
  for (const result of ['hit', 'miss']) cacheLookups.inc({ result }, 0);
  for (const reason of REVOCATION_REASONS) revocationDisconnects.inc({ reason }, 0);
  return { successes, failures, aclDenials, cacheLookups, registryRequests, hashChecks, revocationDisconnects, setGauges: (g) => (gauges = g) };
}
