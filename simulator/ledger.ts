// Which readings got a PUBACK: per device the acknowledged ts values and their range, which is
// what --verify reads back (one Query per device, ts BETWEEN min AND max).

export interface DeviceAcks {
  minTs: number;
  maxTs: number;
  readonly ts: Set<number>;
}

export class AckLedger {
  private readonly devices = new Map<string, DeviceAcks>();
  private total = 0;

  add(deviceId: string, timestamps: readonly number[]): void {
    if (timestamps.length === 0) return;
    let acks = this.devices.get(deviceId);
    if (acks === undefined) {
      acks = { minTs: Infinity, maxTs: -Infinity, ts: new Set() };
      this.devices.set(deviceId, acks);
    }
    for (const ts of timestamps) {
      if (acks.ts.has(ts)) continue;
      acks.ts.add(ts);
      this.total += 1;
      if (ts < acks.minTs) acks.minTs = ts;
      if (ts > acks.maxTs) acks.maxTs = ts;
    }
  }

  /** Distinct acknowledged readings. */
  get size(): number {
    return this.total;
  }

  entries(): IterableIterator<[string, DeviceAcks]> {
    return this.devices.entries();
  }
}
