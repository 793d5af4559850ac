// The DynamoDB connection settings shared by the tool subcommands (query, table, dlq): the same
// flags and env vars as `serve`. With no endpoint they talk to the embedded server of a running
// `iot-ingest serve` on this machine (127.0.0.1:<embedded port>); --no-embedded means AWS itself.
import { z } from 'zod';
import { formatSettingsHelp, loadConfig } from '../config/load.ts';
import { SERVE_SETTINGS, int, serveConfigSchema } from '../config/schema.ts';
import type { SettingSpec } from '../config/schema.ts';

const CONNECTION_KEYS = ['dynamodbEndpoint', 'embedded', 'embeddedPort', 'region', 'tableName', 'dlqTableName'];
export const CONNECTION_SETTINGS: readonly SettingSpec[] = SERVE_SETTINGS.filter((s) => CONNECTION_KEYS.includes(s.key));

/** The serve schema's connection settings, so that a value means the same to every command. */
export function connectionSchema<T extends z.ZodRawShape>(extra: T) {
  const serve = serveConfigSchema.shape;
  return z.object({
    dynamodbEndpoint: serve.dynamodbEndpoint,
    embedded: serve.embedded,
    // A tool connects to a running server, so port 0 ("pick one") makes no sense here.
    embeddedPort: int(z.number().min(1).max(65535)).default(4567),
    region: serve.region,
    tableName: serve.tableName,
    dlqTableName: serve.dlqTableName,
    ...extra,
  });
}

export interface Connection {
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly tableName: string;
  readonly dlqTableName: string;
}

export function parseCommand<T extends z.ZodRawShape>(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  extraSettings: readonly SettingSpec[],
  extra: T,
): { help: boolean; positionals: string[]; conn: Connection; options: z.infer<z.ZodObject<T>> } {
  const schema = connectionSchema(extra);
  const loaded = loadConfig(schema, [...CONNECTION_SETTINGS, ...extraSettings], argv, env);
  if (loaded.help) return { help: true, positionals: loaded.positionals, conn: undefined as unknown as Connection, options: undefined as never };
  const c = loaded.config as Record<string, unknown> & { dynamodbEndpoint?: string; embedded: boolean; embeddedPort: number; region: string; tableName: string; dlqTableName: string };
  const endpoint = c.dynamodbEndpoint ?? (c.embedded ? `http://127.0.0.1:${c.embeddedPort}` : undefined);
  return {
    help: false,
    positionals: loaded.positionals,
    conn: { endpoint, region: c.region, tableName: c.tableName, dlqTableName: c.dlqTableName },
    options: c as unknown as z.infer<z.ZodObject<T>>,
  };
}

/** Help lines for a command's own settings followed by the shared connection settings. */
export function commandSettingsHelp(own: readonly SettingSpec[] = []): string {
  return [
    formatSettingsHelp([...own, ...CONNECTION_SETTINGS], {}),
    '',
    'With no endpoint this talks to the embedded DynamoDB-API server of an `iot-ingest serve` running',
    'on this machine (127.0.0.1:<embedded port>); --no-embedded talks to AWS (region + default credentials).',
  ].join('\n');
}
