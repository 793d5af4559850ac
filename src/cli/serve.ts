// `iot-ingest serve`: configuration, help text and start-up of the service. Signals and exit codes
// stay in main.ts.
import { formatSettingsHelp, loadConfig, maskConfig } from '../config/load.ts';
import { SERVE_SETTINGS, serveConfigSchema } from '../config/schema.ts';
import type { ServeConfig } from '../config/schema.ts';

export function serveHelp(): string {
  const defaults = serveConfigSchema.parse({}) as Record<string, unknown>;
  return [
    'Usage: iot-ingest serve [options]',
    '',
    'Runs the MQTT broker and writes every reading published to devices/{deviceId}/telemetry into',
    'DynamoDB in batches. With no DynamoDB endpoint it starts an embedded DynamoDB-API server whose',
    'data lives under --data-dir. Settings come from defaults < environment < flags.',
    '',
    `  ${'flag'.padEnd(34)} ${'environment'.padEnd(26)} meaning`,
    formatSettingsHelp(SERVE_SETTINGS, defaults),
    '  -h, --help                         show this help',
    '',
    'Examples:',
    '  npm start                                   # embedded DynamoDB, MQTT on 1883, metrics on 9464',
    '  DYNAMODB_ENDPOINT=http://localhost:8000 iot-ingest serve --retention-days 30',
    '  iot-ingest serve --no-embedded --region eu-west-1 --table telemetry   # real DynamoDB',
  ].join('\n');
}

export function parseServeArgs(argv: readonly string[], env: NodeJS.ProcessEnv): { config: ServeConfig; help: boolean } {
  const { config, help } = loadConfig(serveConfigSchema, SERVE_SETTINGS, argv, env);
  return { config, help };
}

export function describeConfig(config: ServeConfig): Record<string, unknown> {
  return maskConfig(config as Record<string, unknown>, SERVE_SETTINGS);
}
