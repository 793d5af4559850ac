// The command-line contract of every command, as a table: --help, --version, an unknown flag, a bad
// value, an unreachable endpoint, a missing table, a busy port and a closed stdout. Each row runs the
// CLI as a process and asserts the exit code, a single line on stderr naming the setting (or an
// empty stderr where the output ends quietly), and that no stack frame ("    at ") leaks out.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort, randomTableName, startDynalite } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { CLI, REPO_ROOT, runCli, startTestService } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const COMMANDS = ['serve', 'simulate', 'query', 'table', 'dlq'] as const;

interface Row {
  readonly args: string[];
  readonly code: number;
  /** What the one stderr line must contain (all of them); null: stderr must be empty. */
  readonly line: readonly string[] | null;
  readonly stdout?: string;
}

function expectOneLine(stderr: string, must: readonly string[] | null): void {
  expect(stderr).not.toContain('    at ');
  if (must === null) {
    expect(stderr).toBe('');
    return;
  }
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(1);
  for (const text of must) expect(lines[0]).toContain(text);
  expect(lines[0]).not.toMatch(/Invalid input|expected number|received string/);
}

/** Runs the CLI with its stdout already closed by the reader. */
function runWithClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.destroy();
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.once('exit', (code) => resolve({ code, stderr }));
  });
}

describe('the CLI contract of every command', () => {
  let dynamo: DynamoServer;
  let svc: TestService;
  let closedPort: number;
  let busy: Server;
  let busyPort: number;
  let dataDir: string;
  const table = randomTableName('contract');
  const conn = (): string[] => ['--dynamodb-endpoint', dynamo.endpoint, '--table', table, '--dlq-table', `${table}-dlq`];

  beforeAll(async () => {
    dynamo = await startDynalite();
    svc = await startTestService(dynamo.endpoint, { tableName: table, dlqTableName: `${table}-dlq` });
    closedPort = await findFreePort();
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
    dataDir = mkdtempSync(join(tmpdir(), 'cli-contract-'));
    // Readings for the closed-stdout row.
    const c = await connectAsync(svc.mqttUrl, { clientId: 'contract-dev', reconnectPeriod: 0 });
    const base = Date.now() - 60_000;
    await c.publishAsync('devices/contract-dev/telemetry', JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ ts: base + i, v: i }))), { qos: 1 });
    await c.endAsync();
  });
  afterAll(async () => {
    busy?.close();
    await svc?.stop();
    await dynamo?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  describe.each(COMMANDS)('%s', (command) => {
    const action = command === 'table' ? ['describe'] : command === 'dlq' ? ['list'] : command === 'query' ? ['contract-dev'] : [];

    it('--help: usage on stdout, exit 0', async () => {
      const r = await runCli([command, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: iot-ingest ${command}`));
      expect(r.stdout).toContain('--help');
      expect(r.stdout).toContain('--version');
      expectOneLine(r.stderr, null);
    });

    it('--version: the package version, exit 0', async () => {
      const r = await runCli([command, '--version']);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${VERSION}\n`);
      expectOneLine(r.stderr, null);
    });

    it('an unknown flag: exit 2, one line naming it', async () => {
      const r = await runCli([command, ...action, '--bogus-flag', '1']);
      expect(r.code).toBe(2);
      expectOneLine(r.stderr, ['--bogus-flag', 'unknown option']);
    });

    it('a stray argument: exit 2, one line naming it', async () => {
      const r = await runCli([command, ...action, 'stray-one', 'stray-two']);
      expect(r.code).toBe(2);
      expectOneLine(r.stderr, ['unexpected argument "stray-']);
    });

    it('a closed stdout: ends quietly, exit 1', async () => {
      const args = command === 'serve' || command === 'simulate' ? [command, '--help']
        : command === 'dlq' ? ['dlq', 'replay', '--dry-run', ...conn()] : [command, ...action, ...conn()];
      const r = await runWithClosedStdout(args);
      expect(r.code).toBe(1);
      expectOneLine(r.stderr, null);
    });
  });

  const badValues: Record<(typeof COMMANDS)[number], Row> = {
    serve: { args: ['serve', '--mqtt-port', 'many'], code: 2, line: ['--mqtt-port / MQTT_PORT', 'must be a number', '"many"'] },
    simulate: { args: ['simulate', '--devices', 'many'], code: 2, line: ['--devices', 'many'] },
    query: { args: ['query', 'dev-1', '--limit', 'many'], code: 2, line: ['--limit / QUERY_LIMIT', 'must be a number'] },
    table: { args: ['table', 'describe', '--embedded-port', '0'], code: 2, line: ['--embedded-port / EMBEDDED_DYNAMODB_PORT', 'at least 1'] },
    dlq: { args: ['dlq', 'list', '--reason', 'bad_luck'], code: 2, line: ['--reason / DLQ_REASON', 'must be one of', 'malformed_json'] },
  };
  it.each(COMMANDS)('%s: a bad value is one line naming the setting, in plain words, exit 2', async (command) => {
    const row = badValues[command];
    const r = await runCli(row.args);
    expect(r.code).toBe(row.code);
    expectOneLine(r.stderr, row.line);
  });

  it('serve: a stray value after a boolean flag is refused (serve --embedded false)', async () => {
    const r = await runCli(['serve', '--embedded', 'false']);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, ['unexpected argument "false"']);
  });

  it('query: epoch seconds are refused with a hint, as the ingest side does', async () => {
    const r = await runCli(['query', 'dev-1', '--from', '1732480000', ...conn()]);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, ['--from / QUERY_FROM', 'epoch seconds', '1732480000000']);
  });

  it('query: an unknown device prints nothing, says so on stderr, exit 0', async () => {
    const r = await runCli(['query', 'nobody-here', ...conn()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expectOneLine(r.stderr, ['no readings for device "nobody-here"']);
    const invalid = await runCli(['query', 'bad id!', ...conn()]);
    expect(invalid.code).toBe(2);
    expectOneLine(invalid.stderr, ['<deviceId> "bad id!"']);
  });

  const unreachable = (): Record<string, Row> => ({
    simulate: { args: ['simulate', '--url', `mqtt://127.0.0.1:${closedPort}`, '-n', '1', '-d', '1', '--quiet'], code: 5, line: ['--url / MQTT_URL', 'ECONNREFUSED'] },
    query: { args: ['query', 'dev-1', '--dynamodb-endpoint', `http://127.0.0.1:${closedPort}`], code: 1, line: ['cannot reach DynamoDB', '--dynamodb-endpoint / DYNAMODB_ENDPOINT'] },
    table: { args: ['table', 'create', '--dynamodb-endpoint', `http://127.0.0.1:${closedPort}`], code: 1, line: ['cannot reach DynamoDB', '--dynamodb-endpoint / DYNAMODB_ENDPOINT'] },
    dlq: { args: ['dlq', 'replay'], code: 1, line: [`127.0.0.1:${closedPort}`, 'ECONNREFUSED', '--dynamodb-endpoint / DYNAMODB_ENDPOINT'] },
  });
  // serve waits for an unreachable DynamoDB (/readyz 503 meanwhile) instead of exiting: see README.
  it.each(['simulate', 'query', 'table', 'dlq'])('%s: an unreachable endpoint is one line naming it and the setting', async (command) => {
    const row = unreachable()[command] as Row;
    const r = await runCli(row.args, { DYNAMODB_ENDPOINT: `http://127.0.0.1:${closedPort}` });
    expect(r.code).toBe(row.code);
    expectOneLine(r.stderr, row.line);
  });

  it('credentials missing for AWS itself: one line naming the variables, exit 1', async () => {
    const r = await runCli(['query', 'dev-1', '--no-embedded'], {
      AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_CONFIG_FILE: '/nonexistent', AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '', AWS_WEB_IDENTITY_TOKEN_FILE: '',
    });
    expect(r.code).toBe(1);
    expectOneLine(r.stderr, ['AWS credentials missing', 'AWS_ACCESS_KEY_ID', '--dynamodb-endpoint / DYNAMODB_ENDPOINT']);
  });

  const missingTable = (): Record<string, Row> => ({
    serve: { args: ['serve', '--dynamodb-endpoint', dynamo.endpoint, '--no-create-table', '--table', 'absent_tbl', '--mqtt-port', '0', '--http-port', '0', '--log-level', 'warn'], code: 1, line: ['"absent_tbl"', 'create'] },
    simulate: { args: ['simulate', '--url', svc.mqttUrl, '-n', '1', '-c', '1', '--quiet', '--verify', '--dynamodb-endpoint', dynamo.endpoint, '--table', 'absent_tbl', '--prefix', 'mt'], code: 6, line: ['--table / TABLE_NAME', 'could not read'] },
    query: { args: ['query', 'dev-1', '--dynamodb-endpoint', dynamo.endpoint, '--table', 'absent_tbl'], code: 1, line: ['table "absent_tbl" not found', '--table / TABLE_NAME', 'iot-ingest table create'] },
    dlq: { args: ['dlq', 'list', '--dynamodb-endpoint', dynamo.endpoint, '--dlq-table', 'absent_dlq'], code: 1, line: ['table "absent_dlq" not found', '--dlq-table / DLQ_TABLE_NAME'] },
  });
  it.each(['serve', 'simulate', 'query', 'dlq'])('%s: a missing table is one line naming the table, non-zero exit', async (command) => {
    const row = missingTable()[command] as Row;
    const r = await runCli(row.args);
    expect(r.code).toBe(row.code);
    expectOneLine(r.stderr.split('\n').filter((l) => !l.startsWith('{')).join('\n'), row.line);
  });

  it('table: a missing table is reported as MISSING by describe (exit 0), created by create', async () => {
    const r = await runCli(['table', 'describe', '--dynamodb-endpoint', dynamo.endpoint, '--table', 'absent_tbl']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('{"table":"absent_tbl","status":"MISSING"}');
  });

  it.each([
    ['--mqtt-port', '--mqtt-port / MQTT_PORT'],
    ['--http-port', '--http-port / HTTP_PORT'],
    ['--embedded-port', '--embedded-port / EMBEDDED_DYNAMODB_PORT'],
  ])('serve: a busy %s is one line naming the port and the flag, exit 1', async (flag, setting) => {
    const ports = { '--mqtt-port': '0', '--http-port': '0', '--embedded-port': '0', [flag]: String(busyPort) };
    const endpoint = flag === '--embedded-port' ? ['--data-dir', dataDir] : ['--dynamodb-endpoint', dynamo.endpoint];
    const r = await runCli(['serve', ...endpoint, '--mqtt-host', '127.0.0.1', '--http-host', '127.0.0.1', '--log-level', 'warn',
      ...Object.entries(ports).flat(), '--table', table, '--dlq-table', `${table}-dlq`]);
    expect(r.code).toBe(1);
    expectOneLine(r.stderr.split('\n').filter((l) => !l.startsWith('{')).join('\n'), [`port ${busyPort} is already in use`, setting]);
  });

  it('the top level: --help lists every command and the exit codes; an unknown command is exit 2', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const c of COMMANDS) expect(help.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(help.stdout).toMatch(/Exit codes:[\s\S]*\n {2}0 [\s\S]*\n {2}1 [\s\S]*\n {2}2 [\s\S]*\n {2}5 /);
    expect((await runCli(['--version'])).stdout).toBe(`${VERSION}\n`);
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expectOneLine(unknown.stderr, ['unknown command "frobnicate"']);
  });
});
