// The commands table (deviceId HASH, commandId RANGE; TTL on purgeAt) and every state change as a
// conditional write, so that two replicas, a restart or a late PUBACK never move a command
// backwards: queued -> delivered -> answered, queued|delivered -> expired.
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TableSpec } from '../storage/tables.ts';
import type { CommandRecord } from './command.ts';

export const COMMANDS_TTL_ATTRIBUTE = 'purgeAt';

export function commandsTableSpec(name: string): TableSpec {
  return {
    name,
    keySchema: [
      { AttributeName: 'deviceId', KeyType: 'HASH' },
      { AttributeName: 'commandId', KeyType: 'RANGE' },
    ],
    attributes: [
      { AttributeName: 'deviceId', AttributeType: 'S' },
      { AttributeName: 'commandId', AttributeType: 'S' },
    ],
  };
}

export type Transition = 'changed' | 'unchanged';

export class CommandsTable {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly onWrite: () => void = () => undefined,
  ) {}

  async put(c: CommandRecord): Promise<void> {
    this.onWrite();
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: c, ConditionExpression: 'attribute_not_exists(commandId)' }));
  }

  async get(deviceId: string, commandId: string): Promise<CommandRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { deviceId, commandId }, ConsistentRead: true }));
    return out.Item as CommandRecord | undefined;
  }

  /** Queued commands of a device, oldest first, at most `limit`. */
  async pending(deviceId: string, limit: number): Promise<CommandRecord[]> {
    const found: CommandRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'deviceId = :d',
          FilterExpression: '#s = :queued',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':d': deviceId, ':queued': 'queued' },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      found.push(...((page.Items ?? []) as CommandRecord[]));
      start = page.LastEvaluatedKey;
    } while (start && found.length < limit);
    return found.slice(0, limit);
  }

  /** The device's PUBACK: queued -> delivered. */
  markDelivered(deviceId: string, commandId: string, at: number, replica: string): Promise<Transition> {
    return this.transition(deviceId, commandId, 'SET #s = :delivered, deliveredAt = :at, deliveredBy = :replica', '#s = :queued', {
      ':delivered': 'delivered',
      ':queued': 'queued',
      ':at': at,
      ':replica': replica,
    });
  }

  /** The device's answer: queued|delivered -> answered, while the deadline has not passed. */
  markAnswered(deviceId: string, commandId: string, at: number, response: Record<string, unknown>): Promise<Transition> {
    return this.transition(
      deviceId,
      commandId,
      'SET #s = :answered, answeredAt = :at, #r = :response, deliveredAt = if_not_exists(deliveredAt, :at)',
      '(#s = :queued OR #s = :delivered) AND deadlineAt >= :at',
      { ':answered': 'answered', ':queued': 'queued', ':delivered': 'delivered', ':at': at, ':response': response },
      { '#r': 'response' },
    );
  }

  /** Past its deadline without an answer: queued|delivered -> expired. */
  markExpired(deviceId: string, commandId: string, at: number): Promise<Transition> {
    return this.transition(deviceId, commandId, 'SET #s = :expired', '(#s = :queued OR #s = :delivered) AND deadlineAt < :at', {
      ':expired': 'expired',
      ':queued': 'queued',
      ':delivered': 'delivered',
      ':at': at,
    });
  }

  private async transition(
    deviceId: string,
    commandId: string,
    update: string,
    condition: string,
    values: Record<string, unknown>,
    names: Record<string, string> = {},
  ): Promise<Transition> {
    this.onWrite();
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { deviceId, commandId },
          UpdateExpression: update,
          ConditionExpression: `attribute_exists(commandId) AND ${condition}`,
          ExpressionAttributeNames: { '#s': 'status', ...names },
          ExpressionAttributeValues: values,
        }),
      );
      return 'changed';
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return 'unchanged';
      throw err;
    }
  }
}
