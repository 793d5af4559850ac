// Bounds on who may hold a connection: open connections in total and per source address (checked
// at accept, before a byte is read), and CONNECT attempts per source address per second (checked
// when the CONNECT arrives). The per-address maps hold only addresses with an open connection or a
// CONNECT in the current second, so they are bounded by the connection limits themselves.
import type { LimitName } from './limit-metrics.ts';

export interface ConnectionGateLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly maxConnectsPerIpPerSecond: number;
}

export class ConnectionGate {
  private open = 0;
  private readonly openByIp = new Map<string, number>();
  private connectsThisSecond = new Map<string, number>();
  private second = 0;

  constructor(
    private readonly limits: ConnectionGateLimits,
    private readonly now: () => number = Date.now,
  ) {}

  get openConnections(): number {
    return this.open;
  }

  /** Takes a connection slot for `ip`, or says which limit refuses it. Pair with `release`. */
  admit(ip: string): LimitName | undefined {
    if (this.open >= this.limits.maxConnections) return 'connections_total';
    const fromIp = this.openByIp.get(ip) ?? 0;
    if (fromIp >= this.limits.maxConnectionsPerIp) return 'connections_per_ip';
    this.open += 1;
    this.openByIp.set(ip, fromIp + 1);
    return undefined;
  }

  release(ip: string): void {
    this.open -= 1;
    const fromIp = (this.openByIp.get(ip) ?? 1) - 1;
    if (fromIp <= 0) this.openByIp.delete(ip);
    else this.openByIp.set(ip, fromIp);
  }

  /** Counts one CONNECT from `ip`; false when `ip` has used up this second's allowance. */
  allowConnect(ip: string): boolean {
    const second = Math.floor(this.now() / 1000);
    if (second !== this.second) {
      this.second = second;
      this.connectsThisSecond = new Map();
    }
    const count = (this.connectsThisSecond.get(ip) ?? 0) + 1;
    this.connectsThisSecond.set(ip, count);
    return count <= this.limits.maxConnectsPerIpPerSecond;
  }
}
