// loadConfig with the serve schema: defaults < env < flags, every problem reported at once.
import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/errors.ts';
import { formatSettingsHelp, loadConfig, maskConfig } from '../../src/config/load.ts';
import { SERVE_SETTINGS, serveConfigSchema } from '../../src/config/schema.ts';
import type { ServeConfig } from '../../src/config/schema.ts';

function load(argv: string[] = [], env: NodeJS.ProcessEnv = {}): ServeConfig {
  return loadConfig(serveConfigSchema, SERVE_SETTINGS, argv, env).config;
}

function loadError(argv: string[] = [], env: NodeJS.ProcessEnv = {}): CliError {
  try {
    load(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    return err as CliError;
  }
  throw new Error('expected a CliError');
}

describe('loadConfig (serve)', () => {
  it('defaults', () => {
    const c = load();
    expect(c).toMatchObject({
      mqttPort: 1883, httpPort: 9464, embedded: true, createTable: true, tableName: 'telemetry', dlqTableName: 'telemetry_dlq',
      ackMode: 'durable', batchSize: 25, lingerMs: 20, writeConcurrency: 16, maxQueuedReadings: 20_000,
      maxPayloadBytes: 128 * 1024, maxFutureSkewMs: 300_000, maxItemBytes: 400_000, region: 'us-east-1',
    });
    expect(c.retentionDays).toBeUndefined();
    expect(c.dynamodbEndpoint).toBeUndefined();
  });

  it('env overrides defaults (numbers coerced, booleans parsed)', () => {
    const c = load([], { BATCH_SIZE: '10', ACK_MODE: 'received', CREATE_TABLE: 'false', RETENTION_DAYS: '30', DYNAMODB_ENDPOINT: 'http://localhost:8000' });
    expect(c).toMatchObject({ batchSize: 10, ackMode: 'received', createTable: false, retentionDays: 30, dynamodbEndpoint: 'http://localhost:8000' });
  });

  it('an empty env var counts as unset', () => {
    expect(load([], { BATCH_SIZE: '' }).batchSize).toBe(25);
  });

  it('flags override env', () => {
    expect(load(['--batch-size', '5'], { BATCH_SIZE: '10' }).batchSize).toBe(5);
    expect(load(['--batch-size=7'], { BATCH_SIZE: '10' }).batchSize).toBe(7);
    expect(load(['--ack-mode', 'durable'], { ACK_MODE: 'received' }).ackMode).toBe('durable');
  });

  it('--no-create-table turns a boolean off, over env and default', () => {
    expect(load(['--no-create-table']).createTable).toBe(false);
    expect(load(['--no-create-table'], { CREATE_TABLE: 'true' }).createTable).toBe(false);
    expect(load(['--create-table'], { CREATE_TABLE: 'false' }).createTable).toBe(true);
    expect(load(['--no-embedded']).embedded).toBe(false);
  });

  it('several invalid settings are reported in one CliError naming each flag and env var', () => {
    const err = loadError(['--batch-size', '26', '--linger-ms=-1'], { WRITE_CONCURRENCY: 'many', ACK_MODE: 'sometimes' });
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('--batch-size / BATCH_SIZE: must be <= 25');
    expect(err.message).toContain('(got --batch-size="26")');
    expect(err.message).toMatch(/--linger-ms \/ LINGER_MS: .*\(got --linger-ms="-1"\)/);
    expect(err.message).toMatch(/--write-concurrency \/ WRITE_CONCURRENCY: .*\(got WRITE_CONCURRENCY="many"\)/);
    expect(err.message).toMatch(/--ack-mode \/ ACK_MODE: .*\(got ACK_MODE="sometimes"\)/);
    expect(err.message.split('\n').filter((l) => l.startsWith('  --'))).toHaveLength(4);
  });

  it('batchSize 26 is rejected, 25 and 1 accepted, 0 rejected', () => {
    expect(loadError(['--batch-size', '26']).message).toContain('--batch-size / BATCH_SIZE: must be <= 25');
    expect(load(['--batch-size', '25']).batchSize).toBe(25);
    expect(load(['--batch-size', '1']).batchSize).toBe(1);
    expect(loadError(['--batch-size', '0']).message).toContain('--batch-size / BATCH_SIZE');
    expect(loadError([], { BATCH_SIZE: '2.5' }).message).toContain('BATCH_SIZE');
  });

  it('maxReadingsPerMessage > maxQueuedReadings is rejected', () => {
    const err = loadError(['--max-readings-per-message', '600', '--max-queued-readings', '500']);
    expect(err.message).toContain('--max-readings-per-message / MAX_READINGS_PER_MESSAGE: must be <= maxQueuedReadings (500)');
    expect(load(['--max-readings-per-message', '500', '--max-queued-readings', '500']).maxReadingsPerMessage).toBe(500);
  });

  it('field errors and cross-field errors are reported together', () => {
    const err = loadError(['--batch-size', '26', '--max-readings-per-message', '600', '--max-queued-readings', '500']);
    expect(err.message).toContain('--batch-size / BATCH_SIZE: must be <= 25');
    expect(err.message).toContain('--max-readings-per-message / MAX_READINGS_PER_MESSAGE: must be <= maxQueuedReadings (500)');
  });

  it('other cross-field rules: queue bytes vs payload bytes, distinct table names', () => {
    expect(loadError(['--max-payload-bytes', '1000', '--max-queued-bytes', '1999']).message).toContain('--max-queued-bytes / MAX_QUEUED_BYTES');
    expect(loadError(['--table', 'same', '--dlq-table', 'same']).message).toContain('--dlq-table / DLQ_TABLE_NAME: must differ');
  });

  it('an unknown flag is a CliError that names it', () => {
    const err = loadError(['--bogus', '1']);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('--bogus');
    expect(err.message).toContain('--help');
  });

  it('a bad endpoint URL and a bad table name are reported', () => {
    expect(loadError(['--dynamodb-endpoint', 'ftp://x']).message).toContain('--dynamodb-endpoint / DYNAMODB_ENDPOINT');
    expect(loadError(['--table', 'a b']).message).toContain('--table / TABLE_NAME: must be 3-255 chars');
  });

  it('--help short-circuits validation', () => {
    const r = loadConfig(serveConfigSchema, SERVE_SETTINGS, ['--help', '--batch-size', '99'], {});
    expect(r.help).toBe(true);
  });

  it('every setting has a flag, an env var and help, each unique', () => {
    const flags = SERVE_SETTINGS.map((s) => s.flag);
    const envs = SERVE_SETTINGS.map((s) => s.env);
    expect(new Set(flags).size).toBe(flags.length);
    expect(new Set(envs).size).toBe(envs.length);
    const keys = Object.keys(serveConfigSchema.parse({}));
    for (const s of SERVE_SETTINGS) expect(s.help.length).toBeGreaterThan(0);
    for (const k of keys) expect(SERVE_SETTINGS.map((s) => s.key)).toContain(k);
  });

  it('help text lists flags, env vars and defaults; maskConfig hides secrets', () => {
    const help = formatSettingsHelp(SERVE_SETTINGS, serveConfigSchema.parse({}) as Record<string, unknown>);
    expect(help).toContain('--batch-size VALUE');
    expect(help).toContain('BATCH_SIZE');
    expect(help).toContain('[default: 25]');
    expect(help).toContain('--[no-]create-table');
    expect(maskConfig({ a: 'x', b: 'y' }, [{ key: 'a', flag: 'a', env: 'A', kind: 'string', help: 'h', secret: true }])).toEqual({ a: '***', b: 'y' });
  });
});
