// One place that builds the AWS SDK clients. With an endpoint (embedded dynalite, DynamoDB Local,
// LocalStack) it talks to that; without one the SDK's default region and credential chain apply.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

export interface DynamoConnection {
  /** e.g. http://127.0.0.1:4567; undefined means AWS itself (region + default credential chain). */
  readonly endpoint?: string | undefined;
  readonly region: string;
  /** Sockets kept open to the endpoint; at least the write concurrency. */
  readonly maxSockets?: number;
  /** Per-request timeout in ms (connection + response). */
  readonly requestTimeoutMs?: number;
}

export interface DynamoClients {
  readonly client: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
  destroy(): void;
}

/** Credentials used against a local endpoint when none are configured: local servers accept any. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/**
 * How the service marshals values into DynamoDB's JSON: the document client's options, and those of
 * presence's UpdateItem (src/presence/table.ts), which is marshalled without the client. Decoding
 * refuses every number a double does not hold exactly, so the ones left (1e16 included) are written
 * as their exact N string, as the write path's wire encoder writes them: presence's latest reading
 * and dlq replay store what ingest stores (the SDK refuses > 2^53 by default).
 */
export const MARSHALL_OPTIONS = { removeUndefinedValues: true, convertClassInstanceToMap: false, allowImpreciseNumbers: true } as const;

export function createDynamoClients(conn: DynamoConnection, env: NodeJS.ProcessEnv = {}): DynamoClients {
  const maxSockets = conn.maxSockets ?? 64;
  const requestHandler = new NodeHttpHandler({
    httpAgent: new Agent({ keepAlive: true, maxSockets }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
    connectionTimeout: Math.min(conn.requestTimeoutMs ?? 5000, 5000),
    requestTimeout: conn.requestTimeoutMs ?? 10_000,
    // A request that hangs past its timeout is an error the writer retries, not a warning.
    throwOnRequestTimeout: true,
  });
  const hasEnvCredentials = Boolean(env.AWS_ACCESS_KEY_ID) || Boolean(env.AWS_PROFILE);
  const client = new DynamoDBClient({
    region: conn.region,
    ...(conn.endpoint ? { endpoint: conn.endpoint } : {}),
    ...(conn.endpoint && !hasEnvCredentials ? { credentials: LOCAL_CREDENTIALS } : {}),
    requestHandler,
    // Retries are the writer's job (it resends only what failed, with its own backoff and metrics).
    maxAttempts: 1,
  });
  const doc = DynamoDBDocumentClient.from(client, {
    // A copy: lib-dynamodb writes into the options it is given (convertTopLevelContainer), which
    // would change how presence marshals its UpdateItem with the same constant.
    marshallOptions: { ...MARSHALL_OPTIONS },
    // Every stored number is an exact double (decoding refuses the others), so N strings read back as
    // plain numbers, 1e16 included (the SDK's default would turn those into BigInt).
    unmarshallOptions: { wrapNumbers: (text: string) => Number(text) },
  });
  return {
    client,
    doc,
    destroy: () => client.destroy(),
  };
}
