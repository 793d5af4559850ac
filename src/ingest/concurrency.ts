// Adaptive write concurrency (AIMD): how many batches may be in flight. Each write that went through
// without the store pushing back adds 1/limit (so +1 per round of `limit` writes, up to `max`); a
// write during which the store throttled (throttling errors, UnprocessedItems) halves the limit
// (down to `min`), at most once per round, so one burst of throttled answers counts once.
// Exported as the gauge iot_ingest_write_concurrency_limit (read at scrape time).
import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
export interface ConcurrencyBounds {
  readonly min: number;
  readonly max: number;
}

export class AimdLimit {
  private value: number;
  /** Completions still to see before another decrease may happen. */
  private cooldown = 0;
  active = 0;

  constructor(private readonly bounds: ConcurrencyBounds) {
    this.value = bounds.max;
  }

  /** The current limit (whole requests). */
  get limit(): number {
    return Math.max(this.bounds.min, Math.floor(this.value));
  }

  get hasRoom(): boolean {
    return this.active < this.limit;
  }

  /** A write finished; `pushedBack` when the store throttled during it. */
  record(pushedBack: boolean): void {
    if (this.cooldown > 0) this.cooldown--;
    if (pushedBack) {
      if (this.cooldown > 0) return;
      this.value = Math.max(this.bounds.min, this.value / 2);
      this.cooldown = this.active + 1;
      return;
    }
    this.value = Math.min(this.bounds.max, this.value + 1 / Math.max(1, this.value));
  }
}

/** The limit as a gauge on `registry`, read from the limiter at every scrape. */
export function registerConcurrencyMetrics(registry: Registry, limit: AimdLimit): void {
  new Gauge({
    name: 'iot_ingest_write_concurrency_limit',
    help: 'Write requests allowed in flight right now (adaptive: halves on throttling, grows back while the store keeps up).',
    registers: [registry],
    collect() {
      this.set(limit.limit);
    },
  });
}
