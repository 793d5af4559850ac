// Authentication failures and ACL denials in the log without a storm: at most one line per subject
// (device id, application name or client id) per interval, carrying how many were suppressed since.
// Secrets never reach this module.
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';

export const AUTH_LOG_INTERVAL_MS = 60_000;

export class ThrottledAuthLog {
  private readonly last: LRUCache<string, { atMs: number; suppressed: number }>;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs: number = AUTH_LOG_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.last = new LRUCache({ max: 10_000 });
  }

  /** Logs `msg` at warn for `subject` unless it was logged less than an interval ago. */
  warn(subject: string, fields: Record<string, unknown>, msg: string): void {
    this.emit('warn', subject, fields, msg);
  }

  /** The same at info: a client's refused PUBLISH or SUBSCRIBE is its mistake, not an attack. */
  info(subject: string, fields: Record<string, unknown>, msg: string): void {
    this.emit('info', subject, fields, msg);
  }

  private emit(level: 'warn' | 'info', subject: string, fields: Record<string, unknown>, msg: string): void {
    const key = `${msg}\0${subject}`;
    const now = this.now();
    const seen = this.last.get(key);
    if (seen && now - seen.atMs < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    this.last.set(key, { atMs: now, suppressed: 0 });
    this.log[level]({ ...fields, suppressedSinceLast: seen?.suppressed ?? 0 }, msg);
  }
}
