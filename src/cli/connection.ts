// The DynamoDB connection settings shared by the tool commands (query, table, dlq, ...): the same
// flags and env vars as `serve`, parsed by the same schema. With no endpoint they talk to the
// embedded server of a running `iot-ingest serve` on this machine (127.0.0.1:<embedded port>);
// --no-embedded means AWS itself (region + default credential chain).
import { z } from 'zod';
import { SERVE_SETTINGS, int, serveConfigSchema } from '../config/schema.ts';
import type { SettingSpec } from '../config/schema.ts';
import type { ErrorHints } from './explain.ts';

const CONNECTION_KEYS = ['dynamodbEndpoint', 'embedded', 'embeddedPort', 'region', 'tableName', 'dlqTableName', 'logLevel'];

/** The serve settings a tool needs; the embedded port is the one of a running server (no "0 = pick"). */
export const CONNECTION_SETTINGS: readonly SettingSpec[] = SERVE_SETTINGS.filter((s) => CONNECTION_KEYS.includes(s.key)).map((s) =>
  s.key === 'embeddedPort' ? { ...s, help: 'Port of the embedded DynamoDB-API server of the `iot-ingest serve` running here.' }
    : s.key === 'embedded' ? { ...s, help: 'With no endpoint, talk to the embedded server of a local `iot-ingest serve`; --no-embedded: AWS itself.' }
    : s.key === 'logLevel' ? { ...s, help: 'debug: print the stack trace of an error.' } : s);

export const CONNECTION_GROUP = { 'DynamoDB connection': CONNECTION_KEYS } as const;

const serve = serveConfigSchema.shape;
export const connectionShape = {
  dynamodbEndpoint: serve.dynamodbEndpoint,
  embedded: serve.embedded,
  // A tool connects to a running server, so port 0 ("pick one") makes no sense here.
  embeddedPort: int(z.number().min(1).max(65535)).default(4567),
  region: serve.region,
  tableName: serve.tableName,
  dlqTableName: serve.dlqTableName,
  logLevel: serve.logLevel,
};

export const CONNECTION_NOTE = 'With no --dynamodb-endpoint this talks to the embedded DynamoDB-API server of an `iot-ingest serve`\n'
  + 'running on this machine (127.0.0.1:<embedded port>); --no-embedded talks to AWS (region + default credentials).';

export interface Connection {
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly tableName: string;
  readonly dlqTableName: string;
}

export function connectionOf(c: { dynamodbEndpoint?: string | undefined; embedded: boolean; embeddedPort: number; region: string; tableName: string; dlqTableName: string }): Connection {
  const endpoint = c.dynamodbEndpoint ?? (c.embedded ? `http://127.0.0.1:${c.embeddedPort}` : undefined);
  return { endpoint, region: c.region, tableName: c.tableName, dlqTableName: c.dlqTableName };
}

/** Hints for error messages about the telemetry table or the dead-letter table. */
export function tableHints(conn: Connection, which: 'telemetry' | 'dlq'): ErrorHints {
  return which === 'telemetry'
    ? { endpoint: conn.endpoint, region: conn.region, table: conn.tableName, tableSetting: '--table / TABLE_NAME' }
    : { endpoint: conn.endpoint, region: conn.region, table: conn.dlqTableName, tableSetting: '--dlq-table / DLQ_TABLE_NAME' };
}
