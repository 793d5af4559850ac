// The storage seam: one BatchWriteItem attempt against one table. The writer owns retries; this
// only speaks DynamoDB. Tests and benchmarks point it at dynalite, DynamoDB Local, a fault-injecting
// proxy or a do-nothing endpoint through the same code.
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
