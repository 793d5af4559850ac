// The item-object storage interface: one BatchWriteItem attempt with items as plain objects (the
// SDK marshals them). The pipeline writes through the faster wire-JSON BatchTransport
// (src/storage/dynamodb/transport.ts); this interface stays for tests with in-memory stores and for
// tools, and `transportFromStore` adapts it to the sink.
import type { TelemetryItem } from './item.ts';

export interface BatchWriteOutcome {
  /** Items DynamoDB did not process (to be resent), in native form. */
  readonly unprocessed: TelemetryItem[];
  readonly consumedCapacityUnits: number;
}

export interface TelemetryStore {
  readonly tableName: string;
  /** One BatchWriteItem request; throws the SDK's error when the request fails as a whole. */
  writeBatch(items: readonly TelemetryItem[]): Promise<BatchWriteOutcome>;
}
