// The primary's /metrics with --workers: every worker's registry aggregated by prom-client's
// AggregatorRegistry (counters and histograms summed, gauges as each metric's `aggregator` says),
// followed by the primary's own metrics (workers alive, restarts). Handed to the HTTP server as its
// registry, so that /metrics needs no special case.
import { AggregatorRegistry } from 'prom-client';
import type { PrometheusContentType, Registry } from 'prom-client';

export class ClusterRegistry extends AggregatorRegistry<PrometheusContentType> {
  readonly #own: Registry;

  constructor(own: Registry) {
    super();
    this.#own = own;
  }

  override async metrics(): Promise<string> {
    const [workers, own] = await Promise.all([this.clusterMetrics(), this.#own.metrics()]);
    return workers.endsWith('\n') || workers === '' ? `${workers}${own}` : `${workers}\n${own}`;
  }
}
