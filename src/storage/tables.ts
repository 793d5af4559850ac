// Table bootstrap: the telemetry table (deviceId S HASH, ts N RANGE) and the dead-letter table
// (id S HASH), both on-demand, created when missing and checked when present. TTL is pointed at
// `expiresAt` when a retention period is set; local servers without UpdateTimeToLive get a warning.
import {
  CreateTableCommand,
  DescribeTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient, KeySchemaElement, AttributeDefinition } from '@aws-sdk/client-dynamodb';
import type { Logger } from 'pino';
import { IngestError } from '../errors.ts';
import { retry } from '../retry.ts';

export interface TableSpec {
  readonly name: string;
  readonly keySchema: KeySchemaElement[];
  readonly attributes: AttributeDefinition[];
}

export function telemetryTableSpec(name: string): TableSpec {
  return {
    name,
    keySchema: [
      { AttributeName: 'deviceId', KeyType: 'HASH' },
      { AttributeName: 'ts', KeyType: 'RANGE' },
    ],
    attributes: [
      { AttributeName: 'deviceId', AttributeType: 'S' },
      { AttributeName: 'ts', AttributeType: 'N' },
    ],
  };
}

export function deadLetterTableSpec(name: string): TableSpec {
  return {
    name,
    keySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    attributes: [{ AttributeName: 'id', AttributeType: 'S' }],
  };
}

export interface EnsureTableOptions {
  readonly create: boolean;
  readonly ttlAttribute?: string | undefined;
  readonly log: Logger;
  readonly activeTimeoutMs?: number;
}

/** Makes sure the table exists, is ACTIVE and has the expected key schema. Returns its status line. */
export async function ensureTable(client: DynamoDBClient, spec: TableSpec, options: EnsureTableOptions): Promise<'created' | 'exists'> {
  let outcome: 'created' | 'exists' = 'exists';
  let description = await describe(client, spec.name);
  if (!description) {
    if (!options.create) {
      throw new IngestError('STORE_UNAVAILABLE', `table "${spec.name}" does not exist (start with --create-table, or create it: iot-ingest table create)`);
    }
    try {
      await client.send(
        new CreateTableCommand({
          TableName: spec.name,
          KeySchema: spec.keySchema,
          AttributeDefinitions: spec.attributes,
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      outcome = 'created';
      options.log.info({ table: spec.name }, 'table created');
    } catch (err) {
      // Another replica may have created it at the same moment.
      if ((err as Error).name !== 'ResourceInUseException') throw err;
    }
    description = await describe(client, spec.name);
  }
  if (description?.TableStatus !== 'ACTIVE') {
    const timeoutMs = options.activeTimeoutMs ?? 60_000;
    description = await retry(
      async () => {
        const d = await describe(client, spec.name);
        if (d?.TableStatus !== 'ACTIVE') throw new IngestError('STORE_UNAVAILABLE', `table "${spec.name}" is not ACTIVE (status ${d?.TableStatus ?? 'missing'})`, { retriable: true });
        return d;
      },
      { backoff: { baseMs: 100, capMs: 1_000 }, budgetMs: timeoutMs },
    ).catch((err: unknown) => {
      throw err instanceof IngestError && err.code === 'RETRY_EXHAUSTED' ? new IngestError('STORE_UNAVAILABLE', `table "${spec.name}" did not become ACTIVE within ${timeoutMs} ms`, { cause: err }) : err;
    });
  }
  checkKeySchema(spec, description.KeySchema ?? [], description.AttributeDefinitions ?? []);
  if (options.ttlAttribute) await enableTtl(client, spec.name, options.ttlAttribute, options.log);
  return outcome;
}

async function describe(client: DynamoDBClient, name: string) {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: name }))).Table;
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') return undefined;
    throw err;
  }
}

function checkKeySchema(spec: TableSpec, actual: KeySchemaElement[], attrs: AttributeDefinition[]): void {
  const describeKeys = (keys: KeySchemaElement[], defs: AttributeDefinition[]): string =>
    keys.map((k) => `${k.AttributeName}:${defs.find((a) => a.AttributeName === k.AttributeName)?.AttributeType}:${k.KeyType}`).join(', ');
  const want = describeKeys(spec.keySchema, spec.attributes);
  const got = describeKeys(actual, attrs);
  if (got !== want) {
    throw new IngestError('STORE_UNAVAILABLE', `table "${spec.name}" has key schema [${got}], expected [${want}]`);
  }
}

async function enableTtl(client: DynamoDBClient, table: string, attribute: string, log: Logger): Promise<void> {
  try {
    await client.send(
      new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { Enabled: true, AttributeName: attribute } }),
    );
    log.info({ table, attribute }, 'TTL enabled');
  } catch (err) {
    const e = err as Error;
    if (e.name === 'ValidationException' && /already enabled/i.test(e.message)) return;
    if (e.name === 'UnknownOperationException') {
      log.warn({ table }, 'this DynamoDB endpoint does not support UpdateTimeToLive: expiresAt is written, but nothing deletes expired items');
      return;
    }
    throw err;
  }
}
