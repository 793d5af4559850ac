// How the DynamoDB sink reaches DynamoDB: one BatchWriteItem request carrying items already in wire
// JSON. Implementations: the signed HTTP sender (http-transport.ts), the same on a worker thread
// (worker-transport.ts), and an adapter over the older item-object TelemetryStore (tests, tools).
// Failures are thrown as StoreError (src/storage/errors.ts), already classified.
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { TelemetryItem } from '../item.ts';
import { readingKey } from '../../ingest/reading.ts';
import type { TelemetryStore } from '../telemetry-store.ts';
import { toStoreError } from '../errors.ts';

export interface BatchOutcome {
  /** Keys (readingKey) of the items DynamoDB did not process; only these are resent. */
  readonly unprocessedKeys: readonly string[];
  readonly consumedCapacityUnits: number;
}

export interface BatchTransport {
  readonly tableName: string;
  /** One BatchWriteItem request, its body in wire JSON (`encodeBatch`, `batchWriteBody`; wire.ts); throws StoreError. */
  send(body: string): Promise<BatchOutcome>;
  close(): Promise<void>;
}

interface WireKeyItem {
  readonly deviceId?: { readonly S?: string };
  readonly ts?: { readonly N?: string };
}

/** Reads the answer of BatchWriteItem (wire JSON) for one table. */
export function parseBatchWriteResponse(body: string, tableName: string): BatchOutcome {
  const out = JSON.parse(body) as {
    UnprocessedItems?: Record<string, { PutRequest?: { Item?: WireKeyItem } }[]>;
    ConsumedCapacity?: { CapacityUnits?: number }[];
  };
  const unprocessedKeys: string[] = [];
  for (const r of out.UnprocessedItems?.[tableName] ?? []) {
    const item = r.PutRequest?.Item;
    if (item?.deviceId?.S !== undefined && item.ts?.N !== undefined) unprocessedKeys.push(readingKey(item.deviceId.S, Number(item.ts.N)));
  }
  let consumedCapacityUnits = 0;
  for (const c of out.ConsumedCapacity ?? []) consumedCapacityUnits += c.CapacityUnits ?? 0;
  return { unprocessedKeys, consumedCapacityUnits };
}

/** A TelemetryStore (item objects) seen as a BatchTransport: decodes the wire JSON back to items. */
export function transportFromStore(store: TelemetryStore, close: () => Promise<void> = async () => undefined): BatchTransport {
  return {
    tableName: store.tableName,
    async send(body) {
      const requests = (JSON.parse(body) as { RequestItems: Record<string, { PutRequest: { Item: Parameters<typeof unmarshall>[0] } }[]> }).RequestItems[store.tableName] ?? [];
      const natives = requests.map((r) => unmarshall(r.PutRequest.Item) as TelemetryItem);
      try {
        const out = await store.writeBatch(natives);
        return {
          unprocessedKeys: out.unprocessed.map((i) => readingKey(String(i.deviceId), Number(i.ts))),
          consumedCapacityUnits: out.consumedCapacityUnits,
        };
      } catch (err) {
        throw toStoreError(err);
      }
    },
    close,
  };
}
