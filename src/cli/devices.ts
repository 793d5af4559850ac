// `iot-ingest devices add|list|show|revoke|rotate|import`: the device registry from the command
// line. Secrets are printed once (add, rotate, import) and never stored; the table keeps only
// salted scrypt hashes. Runs against the same DynamoDB endpoint as the service (see connection.ts).
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { z } from 'zod';
import { CliError, IngestError } from '../errors.ts';
import type { SettingSpec } from '../config/schema.ts';
import { SERVE_SETTINGS, bool, int, serveConfigSchema } from '../config/schema.ts';
import { createLogger } from '../log.ts';
import { importDevices, parseImportCsv } from '../identity/bulk-import.ts';
import { describeRecord, devicesTableSpec } from '../identity/device-record.ts';
import type { DeviceAttributes } from '../identity/device-record.ts';
import { DeviceRegistry } from '../identity/registry.ts';
import { DEFAULT_HASH_COST } from '../identity/secrets.ts';
import { createDynamoClients } from '../storage/client.ts';
import { ensureTable } from '../storage/tables.ts';
import { commandSettingsHelp, parseCommand } from './connection.ts';

const SETTINGS: SettingSpec[] = [
  ...SERVE_SETTINGS.filter((s) => s.key === 'devicesTableName'),
  { key: 'attributes', flag: 'attributes', env: 'DEVICE_ATTRIBUTES', kind: 'string', multiple: true, help: 'add: attributes k=v (repeatable, or several k=v after the id).' },
  { key: 'overlapSeconds', flag: 'overlap-seconds', env: 'ROTATE_OVERLAP_SECONDS', kind: 'string', help: 'rotate: how long the old secret stays valid (0 = at once invalid). [default: 3600]' },
  { key: 'out', flag: 'out', env: 'IMPORT_OUT', kind: 'string', help: 'import: write deviceId,secret lines to this new file (mode 600) instead of stdout.' },
  { key: 'limit', flag: 'limit', env: 'DEVICES_LIMIT', kind: 'string', help: 'list: most devices to print. [default: 1000]' },
  { key: 'hashCost', flag: 'hash-cost', env: 'SECRET_HASH_COST', kind: 'string', help: `add, rotate, import: scrypt cost as log2(N), 10-20. [default: ${DEFAULT_HASH_COST.logN}]` },
  { key: 'json', flag: 'json', env: 'DEVICES_JSON', kind: 'boolean', help: 'Print JSON: {"deviceId","secret"} for add/rotate, JSON lines for list.' },
];

const USAGE = `Usage: iot-ingest devices <action> [options]

  add <id> [k=v ...]          provision a device; prints its secret once (--json: {"deviceId","secret"})
  list                        devices with their status (--json: one JSON object per line)
  show <id>                   one device: status, times, attributes, presence (never its secret)
  revoke <id>                 refuse the device from now on; running services close its connections
                              within --auth-cache-ttl-ms (5 s by default)
  rotate <id>                 give the device a new secret (printed once); the old one stays valid
                              for --overlap-seconds
  import <file.csv>           provision many: header "deviceId[,attribute,...]", one device per line;
                              prints deviceId,secret lines (or writes them to --out); ids already
                              registered are skipped; progress on stderr`;

type Io = { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv };

function parseAttributes(pairs: readonly string[]): DeviceAttributes {
  const out: DeviceAttributes = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 1 || !/^[A-Za-z0-9_]{1,64}$/.test(pair.slice(0, eq))) throw new CliError('CONFIG_INVALID', `attribute "${pair}" must be name=value (name of [A-Za-z0-9_])`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export async function runDevices(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(argv, io.env, SETTINGS, {
    devicesTableName: serveConfigSchema.shape.devicesTableName,
    attributes: z.preprocess((v) => (typeof v === 'string' ? v.split(',') : v), z.array(z.string())).default([]),
    overlapSeconds: int(z.number().min(0).max(365 * 86_400)).default(3600),
    out: z.string().min(1).optional(),
    limit: int(z.number().min(1).max(10_000_000)).default(1000),
    hashCost: int(z.number().min(10).max(20)).default(DEFAULT_HASH_COST.logN),
    json: bool.default(false),
  });
  const [action, target, ...rest] = parsed.positionals;
  if (parsed.help || action === undefined) {
    io.stdout.write(`${USAGE}\n\n${commandSettingsHelp(SETTINGS)}\n`);
    return parsed.help ? 0 : 2;
  }
  const { conn, options } = parsed;
  const cost = { ...DEFAULT_HASH_COST, logN: options.hashCost };
  const needsTarget = (what: string): string => {
    if (target === undefined) throw new CliError('CONFIG_INVALID', `devices ${action}: missing <${what}> (see --help)`);
    return target;
  };
  const clients = createDynamoClients({ endpoint: conn.endpoint, region: conn.region }, io.env);
  const registry = new DeviceRegistry(clients.doc, options.devicesTableName);
  const ensure = (): Promise<unknown> => ensureTable(clients.client, devicesTableSpec(options.devicesTableName), { create: true, log: createLogger('warn', io.stderr) });
  const print = (line: string): void => void io.stdout.write(`${line}\n`);
  try {
    switch (action) {
      case 'add': {
        const id = needsTarget('id');
        const attributes = parseAttributes([...options.attributes, ...rest]);
        await ensure();
        const secret = await registry.add(id, attributes, cost);
        if (options.json) print(JSON.stringify({ deviceId: id, secret }));
        else printSecret(print, id, secret, 'added');
        return 0;
      }
      case 'list': {
        let start: Record<string, unknown> | undefined;
        let left = options.limit;
        do {
          const page = await registry.list(Math.min(left, 1000), start);
          for (const r of page.records) print(options.json ? JSON.stringify(describeRecord(r, Date.now())) : `${r.deviceId}\t${r.status}\t${new Date(r.createdAt).toISOString()}`);
          left -= page.records.length;
          start = page.next;
        } while (start !== undefined && left > 0);
        return 0;
      }
      case 'show': {
        const record = await registry.get(needsTarget('id'));
        if (!record) throw new CliError('DEVICE_NOT_FOUND', `no device "${target}" in table "${options.devicesTableName}"`, { exitCode: 1 });
        print(JSON.stringify(describeRecord(record, Date.now()), null, 2));
        return 0;
      }
      case 'revoke': {
        const record = await registry.revoke(needsTarget('id'));
        print(`device ${record.deviceId} revoked; services refuse it from now on and close its live connections within their --auth-cache-ttl-ms`);
        return 0;
      }
      case 'rotate': {
        const id = needsTarget('id');
        const { secret, previousValidUntil } = await registry.rotate(id, options.overlapSeconds, cost);
        if (options.json) print(JSON.stringify({ deviceId: id, secret, ...(previousValidUntil ? { previousSecretValidUntil: new Date(previousValidUntil).toISOString() } : {}) }));
        else {
          printSecret(print, id, secret, 'rotated');
          print(previousValidUntil ? `The previous secret stays valid until ${new Date(previousValidUntil).toISOString()}.` : 'The previous secret is no longer valid.');
        }
        return 0;
      }
      case 'import':
        return await importCsv(needsTarget('file.csv'), { ...io, registry, clients, ensure, out: options.out, cost });
      default:
        throw new CliError('CONFIG_INVALID', `unknown action "${action}": use add, list, show, revoke, rotate or import`);
    }
  } catch (err) {
    throw asCliError(err, conn.endpoint);
  } finally {
    clients.destroy();
  }
}

function printSecret(print: (line: string) => void, id: string, secret: string, verb: string): void {
  print(`device ${id} ${verb}`);
  print(`secret: ${secret}`);
  print('This secret is shown once and cannot be recovered; store it now. Connect with, for example:');
  print(`  mosquitto_pub -i ${id} -u ${id} -P '${secret}' -t devices/${id}/telemetry -q 1 -m '{"temperature":21.5}'`);
}

async function importCsv(
  file: string,
  ctx: Io & { registry: DeviceRegistry; clients: ReturnType<typeof createDynamoClients>; ensure: () => Promise<unknown>; out: string | undefined; cost: typeof DEFAULT_HASH_COST },
): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError('CONFIG_INVALID', `cannot read ${file}: ${(err as Error).message}`);
  }
  const rows = parseImportCsv(text);
  await ctx.ensure();
  const sink = ctx.out === undefined ? ctx.stdout : createWriteStream(ctx.out, { flags: 'wx', mode: 0o600 });
  if (ctx.out !== undefined) await Promise.race([once(sink, 'open'), once(sink, 'error').then(([e]) => Promise.reject(new CliError('CONFIG_INVALID', `--out: ${(e as Error).message} (the file must not exist yet)`)))]);
  const write = async (text: string): Promise<void> => {
    if (!sink.write(text)) await once(sink, 'drain');
  };
  await write('deviceId,secret\n');
  let lastReport = 0;
  const result = await importDevices(ctx.clients.doc, ctx.registry, rows, {
    cost: ctx.cost,
    onStored: (creds) => write(creds.map((c) => `${c.deviceId},${c.secret}\n`).join('')),
    onProgress: ({ stored, total }) => {
      if (stored === total || Date.now() - lastReport >= 1000) {
        lastReport = Date.now();
        ctx.stderr.write(`imported ${stored} of ${total}\n`);
      }
    },
  });
  if (sink !== ctx.stdout) await new Promise<void>((resolve) => (sink as NodeJS.WritableStream).end(() => resolve()));
  if (result.skippedExisting.length > 0) {
    const shown = result.skippedExisting.slice(0, 10).join(', ');
    ctx.stderr.write(`skipped ${result.skippedExisting.length} device(s) already registered: ${shown}${result.skippedExisting.length > 10 ? ', ...' : ''}\n`);
  }
  ctx.stderr.write(`imported ${result.stored} device(s) into ${ctx.registry.tableName}${ctx.out ? `; secrets written to ${ctx.out}` : ''}\n`);
  return 0;
}

/** Registry errors and an unreachable endpoint as one line for the user, not a stack trace. */
function asCliError(err: unknown, endpoint: string | undefined): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof IngestError) return new CliError(err.code, err.message, { exitCode: err.code === 'CONFIG_INVALID' ? 2 : 1, cause: err });
  const e = err as Error & { code?: string };
  if (e.name === 'ResourceNotFoundException') return new CliError('STORE_UNAVAILABLE', `the devices table does not exist yet (create it with "iot-ingest devices add", or start iot-ingest serve once): ${e.message}`, { exitCode: 1, cause: err });
  if (e.code === 'ECONNREFUSED' || /ECONNREFUSED/.test(String(e.message))) {
    return new CliError('STORE_UNAVAILABLE', `cannot reach DynamoDB at ${endpoint ?? 'AWS'} (is "iot-ingest serve" running, or is --dynamodb-endpoint right?)`, { exitCode: 1, cause: err });
  }
  return err;
}
