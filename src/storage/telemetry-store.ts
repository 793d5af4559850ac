// The item-object storage interface: one BatchWriteItem attempt with items as plain objects (the
// SDK marshals them). The pipeline writes through the faster wire-JSON BatchTransport
// (src/storage/dynamodb/transport.ts); this interface serves tools (dlq replay) and tests with
// in-memory stores, and `transportFromStore` adapts it to the sink.
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
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

export function createDynamoTelemetryStore(doc: DynamoDBDocumentClient, tableName: string): TelemetryStore {
  return {
    tableName,
    async writeBatch(items) {
      const out = await doc.send(
        new BatchWriteCommand({
          RequestItems: { [tableName]: items.map((Item) => ({ PutRequest: { Item } })) },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      const unprocessed = (out.UnprocessedItems?.[tableName] ?? [])
        .map((r) => r.PutRequest?.Item as TelemetryItem | undefined)
        .filter((i): i is TelemetryItem => i !== undefined);
      let consumedCapacityUnits = 0;
      for (const c of out.ConsumedCapacity ?? []) consumedCapacityUnits += c.CapacityUnits ?? 0;
      return { unprocessed, consumedCapacityUnits };
    },
  };
}
