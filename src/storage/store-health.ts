// Whether the DynamoDB-API store answers, for /readyz and the iot_ingest_store_up gauge. A cheap
// probe (DescribeTable of the telemetry table) runs every `probeIntervalMs`, each timing out after
// `probeTimeoutMs`; two failures in a row mark the store down (one lost probe is not an outage), one
// success marks it up. The embedded store's supervisor also reports a death at once (`markDown`).
// Transitions are logged once each, not every probe.
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';

export interface StoreHealthOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly registry: Registry;
  readonly log: Logger;
}

export interface StoreHealth {
  isUp(): boolean;
  /** The store is known to be unreachable (the embedded process died): down until a probe answers. */
  markDown(reason: string): void;
  /** The embedded store was restarted: counts it and probes at once instead of at the next interval. */
  restarted(): Promise<void>;
  /** Probes now. */
  probeNow(): Promise<void>;
  stop(): void;
}

const FAILURES_TO_DOWN = 2;

export function startStoreHealth(options: StoreHealthOptions): StoreHealth {
  const { client, tableName, probeIntervalMs, probeTimeoutMs, log } = options;
  let up = true;
  let failuresInRow = 0;
  let probing: Promise<void> | undefined;
  let stopped = false;
  new Gauge({
    name: 'iot_ingest_store_up',
    help: '1 while the DynamoDB-API store answers (probe: DescribeTable of the telemetry table), 0 while it is unreachable (/readyz is 503).',
    registers: [options.registry],
    collect() {
      this.set(up ? 1 : 0);
    },
  });
  const restartsTotal = new Counter({
    name: 'iot_ingest_embedded_store_restarts_total',
    help: 'Times the embedded DynamoDB-API server process died and was started again.',
    registers: [options.registry],
  });
  restartsTotal.inc(0);

  const setUp = (next: boolean, detail: Record<string, unknown>): void => {
    if (next === up) return;
    up = next;
    if (next) log.info(detail, 'DynamoDB-API store reachable again; ready');
    else log.error(detail, 'DynamoDB-API store unreachable; /readyz answers 503 until it answers');
  };

  const probe = (): Promise<void> =>
    (probing ??= (async () => {
      try {
        await client.send(new DescribeTableCommand({ TableName: tableName }), { abortSignal: AbortSignal.timeout(probeTimeoutMs) });
        failuresInRow = 0;
        if (!stopped) setUp(true, { tableName });
      } catch (err) {
        const e = err as { name?: string; message?: string };
        failuresInRow++;
        if (!stopped && failuresInRow >= FAILURES_TO_DOWN) setUp(false, { tableName, errorName: e.name, errorMessage: String(e.message).slice(0, 300) });
      } finally {
        probing = undefined;
      }
    })());

  const timer = setInterval(() => void probe(), probeIntervalMs).unref();
  return {
    isUp: () => up,
    markDown: (reason) => setUp(false, { reason }),
    restarted: () => {
      restartsTotal.inc();
      return probe();
    },
    probeNow: probe,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
