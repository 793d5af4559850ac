// Closes live connections whose credentials stopped being valid: every `intervalMs` (the credential
// cache TTL) the records of the connected registry-authenticated devices are read again (BatchGetItem,
// 100 per request) and a connection is closed when its device was revoked, removed from the registry,
// or it authenticated with a secret that a rotation has since retired. So a `devices revoke` run
// anywhere reaches every replica within one interval plus one read. A failed read keeps connections
// up (logged) rather than dropping a fleet because the table blinked.
import type { Logger } from 'pino';
import type { CredentialCache } from '../identity/cache.ts';
import { acceptedHashes } from '../identity/device-record.ts';
import type { AuthMetrics, RevocationReason } from './auth-metrics.ts';
import type { RegisteredCredential } from './auth.ts';

export interface SweptConnection {
  readonly id: string;
}

export interface RevocationSweepOptions<C extends SweptConnection> {
  readonly cache: Pick<CredentialCache, 'reload' | 'invalidate'>;
  readonly intervalMs: number;
  readonly metrics: Pick<AuthMetrics, 'revocationDisconnects'>;
  readonly log: Logger;
  readonly close: (connection: C, reason: RevocationReason) => void;
  readonly now?: () => number;
}

export class RevocationSweep<C extends SweptConnection> {
  private readonly byDevice = new Map<string, Map<C, RegisteredCredential>>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: RevocationSweepOptions<C>) {
    this.now = options.now ?? Date.now;
  }

  track(connection: C, credential: RegisteredCredential): void {
    let conns = this.byDevice.get(credential.deviceId);
    if (!conns) this.byDevice.set(credential.deviceId, (conns = new Map()));
    conns.set(connection, credential);
  }

  untrack(connection: C, credential: RegisteredCredential): void {
    const conns = this.byDevice.get(credential.deviceId);
    conns?.delete(connection);
    if (conns?.size === 0) this.byDevice.delete(credential.deviceId);
  }

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One pass; resolves with the number of connections closed. Never two passes at once. */
  sweep(): Promise<number> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<number> {
    const ids = [...this.byDevice.keys()];
    if (ids.length === 0) return 0;
    let records;
    try {
      records = await this.options.cache.reload(ids);
    } catch (err) {
      this.options.log.warn({ err, devices: ids.length }, 'revocation sweep could not read the devices table; connections stay up until the next pass');
      return 0;
    }
    const now = this.now();
    let closed = 0;
    for (const id of ids) {
      const record = records.get(id);
      for (const [connection, credential] of this.byDevice.get(id) ?? []) {
        let reason: RevocationReason | undefined;
        if (!record) reason = 'removed';
        else if (record.status !== 'active') reason = 'revoked';
        else if (credential.matchedHash !== undefined && !acceptedHashes(record, now).includes(credential.matchedHash)) reason = 'secret_expired';
        if (reason === undefined) continue;
        this.untrack(connection, credential);
        this.options.metrics.revocationDisconnects.inc({ reason });
        this.options.log.info({ deviceId: id, clientId: connection.id, reason }, 'closing the connection of a device whose credentials are no longer valid');
        this.options.close(connection, reason);
        closed++;
      }
    }
    return closed;
  }
}
