// `iot-ingest serve`: the service. Options are the serve schema's settings; start-up errors (a port
// in use, an unreachable endpoint) become one line naming the setting to change. Runs until the
// first SIGINT/SIGTERM, then flushes and stops (a second signal exits at once, see main.ts).
import { createRequire } from 'node:module';
import { maskConfig } from '../config/load.ts';
import { CliError } from '../errors.ts';
import { SERVE_SETTINGS, serveConfigSchema } from '../config/schema.ts';
import type { ServeConfig } from '../config/schema.ts';
import { createLogger } from '../log.ts';
import { defineCommand } from './command.ts';
import { EXIT } from './exit-codes.ts';
import type { ErrorHints } from './explain.ts';
import { withHints } from './explain.ts';

export function describeConfig(config: ServeConfig): Record<string, unknown> {
  return maskConfig(config as Record<string, unknown>, SERVE_SETTINGS);
}

function startHints(c: ServeConfig): ErrorHints {
  return {
    endpoint: c.dynamodbEndpoint ?? (c.embedded ? `http://127.0.0.1:${c.embeddedPort}` : undefined),
    region: c.region,
    table: c.tableName,
    ports: [
      { port: c.mqttPort, setting: '--mqtt-port / MQTT_PORT' },
      { port: c.httpPort, setting: '--http-port / HTTP_PORT' },
      ...(c.dynamodbEndpoint === undefined && c.embedded ? [{ port: c.embeddedPort, setting: '--embedded-port / EMBEDDED_DYNAMODB_PORT' }] : []),
    ],
  };
}

/** The embedded server (dynalite) is an optional dependency: users of real DynamoDB may omit it. */
function checkEmbeddedInstalled(c: ServeConfig): void {
  if (c.dynamodbEndpoint !== undefined || !c.embedded) return;
  try {
    createRequire(import.meta.url).resolve('dynalite');
  } catch (err) {
    throw new CliError('CONFIG_INVALID', 'the embedded DynamoDB-API server (dynalite, an optional dependency) is not installed: '
      + 'run `npm install dynalite`, or set --dynamodb-endpoint / DYNAMODB_ENDPOINT, or --no-embedded for AWS', { exitCode: 1, cause: err });
  }
}

export const serveCommand = defineCommand({
  name: 'serve',
  usage: ['[options]'],
  description: [
    'Runs the MQTT broker and writes every reading published to devices/{deviceId}/telemetry into',
    'DynamoDB in batches. With no DynamoDB endpoint it starts an embedded DynamoDB-API server whose',
    'data lives under --data-dir. Settings come from defaults < environment < flags.',
  ].join('\n'),
  settings: SERVE_SETTINGS,
  schema: serveConfigSchema,
  examples: [
    'npm start                                   # embedded DynamoDB, MQTT on 1883, metrics on 9464',
    'DYNAMODB_ENDPOINT=http://localhost:8000 iot-ingest serve --retention-days 30',
    'iot-ingest serve --no-embedded --region eu-west-1 --table telemetry   # real DynamoDB',
  ],
  async run({ config, io }) {
    checkEmbeddedInstalled(config);
    const stopSignal = io.trapSignals();
    const log = createLogger(config.logLevel);
    log.info({ config: describeConfig(config) }, 'configuration');
    const { resolveWorkerCount, startPrimary } = await import('../cluster/primary.ts');
    if (resolveWorkerCount(config.workers) > 1) {
      const primary = await withHints(startHints(config), () => startPrimary(config, { log, env: io.env }));
      if (!stopSignal.aborted) await new Promise((resolve) => stopSignal.addEventListener('abort', resolve, { once: true }));
      log.info({ signal: stopSignal.reason as string }, 'shutting down: every worker flushes its queued readings');
      await primary.stop();
      return EXIT.OK;
    }
    const { startService } = await import('../service.ts');
    const service = await withHints(startHints(config), () => startService(config, { log, env: io.env }));
    if (!stopSignal.aborted) await new Promise((resolve) => stopSignal.addEventListener('abort', resolve, { once: true }));
    log.info({ signal: stopSignal.reason as string }, 'shutting down: flushing queued readings');
    await service.stop();
    return EXIT.OK;
  },
});
