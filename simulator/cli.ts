// `iot-ingest simulate`: options -> fleet run with live progress -> optional read-back -> summary
// and exit code. Receives argv, streams, env and an abort signal; never touches process.* itself.
import { readFile } from 'node:fs/promises';
import { explainError } from '../src/cli/explain.ts';
import { usageError } from '../src/config/load.ts';
import { packageVersion } from '../src/cli/version.ts';
import { createDynamoClients } from '../src/storage/client.ts';
import type { CredentialsLookup } from './credentials.ts';
import { credentialsFromPatterns, parseCredentialsCsv } from './credentials.ts';
import { EXIT_CODES } from './exitCodes.ts';
import type { FleetResult } from './fleet.ts';
import { deviceIdOf, profileOf, startFleet } from './fleet.ts';
import { helpText } from './help.ts';
import type { SimulateOptions } from './options.ts';
import { parseSimulateArgs } from './options.ts';
import { startProgress } from './progress.ts';
import type { VerifyOutcome } from './summary.ts';
import { buildSummary, renderSummary } from './summary.ts';
import { verifyAcknowledged } from './verify.ts';

export interface SimulateIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  /** Whether progress may redraw in place (a terminal); progress is written to stderr. */
  readonly isTTY: boolean;
  /** Aborting ends the run early: publishing stops, the summary (and --verify) still follow. */
  readonly signal?: AbortSignal;
}

interface Prepared {
  readonly credentials: CredentialsLookup;
  readonly ca: string | undefined;
}

/** Reads the files the options name; problems are usage errors, reported together. */
async function prepare(options: SimulateOptions): Promise<{ prepared?: Prepared; errors: string[] }> {
  const errors: string[] = [];
  let ca: string | undefined;
  if (options.caFile !== undefined) {
    try {
      ca = await readFile(options.caFile, 'utf8');
    } catch (error) {
      errors.push(`--ca: cannot read ${options.caFile}: ${(error as Error).message}`);
    }
  }
  let credentials = credentialsFromPatterns(options.usernamePattern, options.passwordPattern);
  if (options.credentialsFile !== undefined) {
    try {
      const file = parseCredentialsCsv(await readFile(options.credentialsFile, 'utf8'), options.credentialsFile);
      errors.push(...file.errors.map((error) => `--credentials-file: ${error}`));
      const missing: string[] = [];
      for (let n = 1; n <= options.devices; n += 1) {
        const id = deviceIdOf(options.prefix, profileOf(options.profile, n), n);
        if (!file.byDevice.has(id)) missing.push(id);
      }
      if (missing.length > 0) {
        errors.push(`--credentials-file: no line for ${missing.length} device(s), e.g. ${missing.slice(0, 3).join(', ')}`);
      }
      credentials = (deviceId) => file.byDevice.get(deviceId) ?? {};
    } catch (error) {
      errors.push(`--credentials-file: cannot read ${options.credentialsFile}: ${(error as Error).message}`);
    }
  }
  return errors.length > 0 ? { errors } : { prepared: { credentials, ca }, errors };
}

async function verifyRun(options: SimulateOptions, run: FleetResult, env: NodeJS.ProcessEnv): Promise<VerifyOutcome> {
  if (!options.verify || run.outcome === 'connection-failed') return undefined;
  const clients = createDynamoClients({ endpoint: options.dynamodbEndpoint, region: options.region, requestTimeoutMs: 30_000 }, env);
  try {
    const result = await verifyAcknowledged(clients.doc, run.ledger, { table: options.table, concurrency: options.verifyConcurrency });
    return { result };
  } catch (error) {
    const err = error as Error;
    return { error: `${err.name}: ${err.message} (endpoint ${options.dynamodbEndpoint}, table ${options.table})` };
  } finally {
    clients.destroy();
  }
}

export async function runSimulate(argv: string[], io: SimulateIo): Promise<number> {
  const parsed = parseSimulateArgs(argv, io.env);
  if (parsed.kind === 'help') {
    io.stdout.write(helpText());
    return EXIT_CODES.OK;
  }
  if (parsed.kind === 'version') {
    io.stdout.write(`${packageVersion()}\n`);
    return EXIT_CODES.OK;
  }
  if (parsed.kind === 'error') {
    io.stderr.write(`iot-ingest simulate: ${usageError(parsed.errors).message}\n`);
    return EXIT_CODES.USAGE;
  }
  const options = parsed.options;
  const { prepared, errors } = await prepare(options);
  if (prepared === undefined) {
    io.stderr.write(`iot-ingest simulate: ${usageError(errors).message}\n`);
    return EXIT_CODES.USAGE;
  }

  try {
    const fleet = startFleet({
      devices: options.devices,
      profile: options.profile,
      prefix: options.prefix,
      transport: {
        url: options.url,
        connectTimeoutMs: options.connectTimeoutMs,
        keepaliveSeconds: options.keepaliveSeconds,
        ca: prepared.ca,
        insecure: options.insecure,
      },
      credentials: prepared.credentials,
      connectRatePerSecond: options.connectRatePerSecond,
      reconnectMinMs: options.reconnectMinMs,
      reconnectMaxMs: options.reconnectMaxMs,
      ratePerDevice: options.ratePerDevice,
      durationMs: options.durationMs,
      count: options.count,
      qos: options.qos,
      inflight: options.inflight,
      batch: options.batch,
      format: options.format,
      seed: options.seed,
      scenario: options.scenario,
      drainTimeoutMs: options.drainTimeoutMs,
    }, io.signal);
    const progress = options.quiet ? undefined : startProgress({
      out: io.stderr,
      isTTY: io.isTTY,
      intervalMs: options.progressIntervalMs,
      devices: options.devices,
      durationMs: options.durationMs,
      totalReadings: options.count === undefined ? undefined : options.count * options.devices,
      title: `iot-ingest simulate · ${options.scenario.name} · ${options.devices} x ${options.profile} · QoS ${options.qos} · ${options.url}`,
    }, fleet.stats, fleet.elapsedMs);
    const run = await fleet.done;
    progress?.stop();
    if (options.verify && !options.quiet && run.outcome !== 'connection-failed') {
      io.stderr.write(`verifying ${run.ledger.size} acknowledged readings in ${options.table} at ${options.dynamodbEndpoint} ...\n`);
    }
    const verify = await verifyRun(options, run, io.env);
    const summary = buildSummary(options, run, verify);
    io.stdout.write(options.json ? `${JSON.stringify(summary)}\n` : renderSummary(summary));
    // The failures a user fixes get one line on stderr too, naming the setting (the summary has the detail).
    if (run.outcome === 'connection-failed') {
      io.stderr.write(`iot-ingest simulate: no device could connect to ${options.url}${run.stats.lastError ? ` (${run.stats.lastError})` : ''}: `
        + 'is `iot-ingest serve` running? set --url / MQTT_URL\n');
    } else if (verify !== undefined && 'error' in verify) {
      io.stderr.write(`iot-ingest simulate: --verify could not read the table: ${verify.error}; check --dynamodb-endpoint / DYNAMODB_ENDPOINT and --table / TABLE_NAME\n`);
    }
    // Stopped by Ctrl-C/SIGTERM: the summary is printed, but the run did not complete.
    return run.outcome === 'aborted' && summary.exitCode === EXIT_CODES.OK ? EXIT_CODES.INTERRUPTED : summary.exitCode;
  } catch (error) {
    const explained = explainError(error, options.logLevel === 'debug' || options.logLevel === 'trace');
    if (explained.line !== '') io.stderr.write(`iot-ingest simulate: ${explained.line}\n`);
    return EXIT_CODES.INTERNAL_ERROR;
  }
}
