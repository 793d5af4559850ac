// `iot-ingest devices add|list|show|revoke|rotate|import`: the device registry from the command
// line, one declared command per action (so each has its own --help). Secrets are printed once
// (add, rotate, import) and never stored; the table keeps only salted scrypt hashes. Runs against
// the same DynamoDB endpoint as the service (connection.ts).
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { z } from 'zod';
import { usageError } from '../config/load.ts';
import type { SettingSpec } from '../config/schema.ts';
import { SERVE_SETTINGS, int, serveConfigSchema } from '../config/schema.ts';
import { CliError, IngestError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { importDevices, parseImportCsv } from '../identity/bulk-import.ts';
import { describeRecord, devicesTableSpec } from '../identity/device-record.ts';
import type { DeviceAttributes } from '../identity/device-record.ts';
import { DeviceRegistry } from '../identity/registry.ts';
import { DEFAULT_HASH_COST } from '../identity/secrets.ts';
import type { HashCost } from '../identity/secrets.ts';
import { createDynamoClients } from '../storage/client.ts';
import { ensureTable } from '../storage/tables.ts';
import type { CliCommand, CliIo } from './command.ts';
import { defineCommand } from './command.ts';
import { CONNECTION_GROUP, CONNECTION_NOTE, CONNECTION_SETTINGS, connectionOf, connectionShape } from './connection.ts';
import { EXIT } from './exit-codes.ts';
import { withHints } from './explain.ts';
import { formatRows } from './options.ts';

const DEVICES_TABLE = SERVE_SETTINGS.filter((s) => s.key === 'devicesTableName');
const HASH_COST: SettingSpec = { key: 'hashCost', flag: 'hash-cost', env: 'SECRET_HASH_COST', kind: 'string', value: 'LOG2N', help: 'scrypt cost of new secrets as log2(N), 10-20 (stored with the hash).' };
const base = { devicesTableName: serveConfigSchema.shape.devicesTableName, ...connectionShape };
const hashCost = { hashCost: int(z.number().min(10).max(20)).default(DEFAULT_HASH_COST.logN) };

interface Registry {
  readonly registry: DeviceRegistry;
  readonly doc: ReturnType<typeof createDynamoClients>['doc'];
  ensureTable(): Promise<unknown>;
}

/** Runs `fn` with a registry on the configured endpoint; errors carry the table and endpoint. */
async function withRegistry<T>(config: z.infer<z.ZodObject<typeof base>>, io: CliIo, fn: (r: Registry) => Promise<T>): Promise<T> {
  const conn = connectionOf(config);
  const clients = createDynamoClients({ endpoint: conn.endpoint, region: conn.region }, io.env);
  const hints = { endpoint: conn.endpoint, region: conn.region, table: config.devicesTableName, tableSetting: '--devices-table / DEVICES_TABLE_NAME' };
  try {
    return await withHints(hints, () =>
      fn({
        registry: new DeviceRegistry(clients.doc, config.devicesTableName),
        doc: clients.doc,
        ensureTable: () => ensureTable(clients.client, devicesTableSpec(config.devicesTableName), { create: true, log: createLogger('warn', io.stderr) }),
      }).catch((err: unknown) => {
        // Registry refusals (exists, not found, revoked) are one line with exit 1, not a crash.
        if (err instanceof IngestError && err.code.startsWith('DEVICE_')) throw new CliError(err.code, err.message, { exitCode: EXIT.FAILURE, cause: err });
        throw err;
      }),
    );
  } finally {
    clients.destroy();
  }
}

function parseAttributes(values: readonly string[]): DeviceAttributes {
  const out: DeviceAttributes = {};
  for (const pair of values.flatMap((v) => v.split(','))) {
    const eq = pair.indexOf('=');
    if (eq < 1 || !/^[A-Za-z0-9_]{1,64}$/.test(pair.slice(0, eq))) throw usageError([`--attributes: "${pair}" must be name=value (name of A-Z a-z 0-9 _)`]);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

function printSecret(io: CliIo, id: string, secret: string, verb: string): void {
  io.stdout.write([
    `device ${id} ${verb}`,
    `secret: ${secret}`,
    'This secret is shown once and cannot be recovered: store it now. Connect with, for example:',
    `  mosquitto_pub -i ${id} -u ${id} -P '${secret}' -t devices/${id}/telemetry -q 1 -m '{"temperature":21.5}'`,
    '',
  ].join('\n'));
}

const ID: readonly [string, string] = ['deviceId', 'the device: 1-128 characters of A-Z a-z 0-9 _ . : -'];
const common = { groups: CONNECTION_GROUP, notes: CONNECTION_NOTE } as const;

const add = defineCommand({
  name: 'devices add',
  usage: ['<deviceId> [--attributes k=v ...] [options]'],
  description: 'Provisions a device and prints its generated secret once (--json: {"deviceId","secret"}).\nThe devices table is created when missing.',
  positionals: [ID],
  settings: [{ key: 'attributes', flag: 'attributes', env: 'DEVICE_ATTRIBUTES', kind: 'string', value: 'K=V', repeatable: true, help: 'Free attributes of the device (repeatable; k=v,k2=v2 also works).' }, HASH_COST, ...DEVICES_TABLE, ...CONNECTION_SETTINGS],
  schema: z.object({ attributes: z.array(z.string()).default([]), ...hashCost, ...base }),
  json: true,
  ...common,
  examples: ['iot-ingest devices add thermo-3 --attributes model=t1000 --attributes site=lab', 'iot-ingest devices add thermo-4 --json'],
  async run({ config, args, json, io }) {
    const id = args[0] as string;
    const attributes = parseAttributes(config.attributes);
    const secret = await withRegistry(config, io, async (r) => {
      await r.ensureTable();
      return r.registry.add(id, attributes, { ...DEFAULT_HASH_COST, logN: config.hashCost });
    });
    if (json) io.stdout.write(`${JSON.stringify({ deviceId: id, secret })}\n`);
    else printSecret(io, id, secret, 'added');
    return EXIT.OK;
  },
});

const list = defineCommand({
  name: 'devices registry-list',
  usage: ['[options]'],
  description: 'Lists devices: id, status and creation time (--json: one object per line with attributes and presence).',
  settings: [{ key: 'limit', flag: 'limit', env: 'DEVICES_LIMIT', kind: 'string', value: 'N', help: 'Most devices to print.' }, ...DEVICES_TABLE, ...CONNECTION_SETTINGS],
  schema: z.object({ limit: int(z.number().min(1).max(10_000_000)).default(1000), ...base }),
  json: true,
  ...common,
  async run({ config, json, io }) {
    await withRegistry(config, io, async ({ registry }) => {
      let start: Record<string, unknown> | undefined;
      let left = config.limit;
      do {
        const page = await registry.list(Math.min(left, 1000), start);
        for (const r of page.records) io.stdout.write(`${json ? JSON.stringify(describeRecord(r, Date.now())) : `${r.deviceId}\t${r.status}\t${new Date(r.createdAt).toISOString()}`}\n`);
        left -= page.records.length;
        start = page.next;
      } while (start !== undefined && left > 0);
    });
    return EXIT.OK;
  },
});

const show = defineCommand({
  name: 'devices registry-show',
  usage: ['<deviceId> [options]'],
  description: 'Prints one device as JSON: status, times, attributes and presence fields (never a secret or hash).',
  positionals: [ID],
  settings: [...DEVICES_TABLE, ...CONNECTION_SETTINGS],
  schema: z.object(base),
  ...common,
  async run({ config, args, io }) {
    const record = await withRegistry(config, io, ({ registry }) => registry.get(args[0] as string));
    if (!record) throw new CliError('DEVICE_NOT_FOUND', `no device "${args[0]}" in table "${config.devicesTableName}"`, { exitCode: EXIT.FAILURE });
    io.stdout.write(`${JSON.stringify(describeRecord(record, Date.now()), null, 2)}\n`);
    return EXIT.OK;
  },
});

const revoke = defineCommand({
  name: 'devices revoke',
  usage: ['<deviceId> [options]'],
  description: 'Revokes a device: refused from now on; running services close its live connections within\ntheir --auth-cache-ttl-ms (5 s by default).',
  positionals: [ID],
  settings: [...DEVICES_TABLE, ...CONNECTION_SETTINGS],
  schema: z.object(base),
  ...common,
  async run({ config, args, io }) {
    const record = await withRegistry(config, io, ({ registry }) => registry.revoke(args[0] as string));
    io.stdout.write(`device ${record.deviceId} revoked; services refuse it now and close its live connections within their --auth-cache-ttl-ms\n`);
    return EXIT.OK;
  },
});

const rotate = defineCommand({
  name: 'devices rotate',
  usage: ['<deviceId> [--overlap-seconds N] [options]'],
  description: 'Gives a device a new secret, printed once; the old one stays valid for --overlap-seconds\n(0: invalid at once), and connections still using it are closed when the overlap ends.',
  positionals: [ID],
  settings: [{ key: 'overlapSeconds', flag: 'overlap-seconds', env: 'ROTATE_OVERLAP_SECONDS', kind: 'string', value: 'N', help: 'How long the previous secret stays valid.' }, HASH_COST, ...DEVICES_TABLE, ...CONNECTION_SETTINGS],
  schema: z.object({ overlapSeconds: int(z.number().min(0).max(365 * 86_400)).default(3600), ...hashCost, ...base }),
  json: true,
  ...common,
  async run({ config, args, json, io }) {
    const id = args[0] as string;
    const cost: HashCost = { ...DEFAULT_HASH_COST, logN: config.hashCost };
    const { secret, previousValidUntil } = await withRegistry(config, io, ({ registry }) => registry.rotate(id, config.overlapSeconds, cost));
    const until = previousValidUntil === undefined ? undefined : new Date(previousValidUntil).toISOString();
    if (json) io.stdout.write(`${JSON.stringify({ deviceId: id, secret, ...(until ? { previousSecretValidUntil: until } : {}) })}\n`);
    else {
      printSecret(io, id, secret, 'rotated');
      io.stdout.write(until ? `The previous secret stays valid until ${until}.\n` : 'The previous secret is no longer valid.\n');
    }
    return EXIT.OK;
  },
});

const importCommand = defineCommand({
  name: 'devices import',
  usage: ['<file.csv> [--out FILE] [options]'],
  description: 'Provisions many devices from a CSV whose header starts with deviceId (other columns become\n'
    + 'attributes). Prints "deviceId,secret" lines once (or writes them to --out, a new file with mode 600).\n'
    + 'Every line is checked before anything is written; ids already registered are skipped, so a rerun\n'
    + 'finishes an interrupted import. Writes 25 devices per BatchWriteItem; progress on stderr.',
  positionals: [['file.csv', 'the CSV to import']],
  settings: [{ key: 'out', flag: 'out', env: 'IMPORT_OUT', kind: 'string', value: 'FILE', help: 'Write the secrets to this new file instead of stdout.' }, HASH_COST, ...DEVICES_TABLE, ...CONNECTION_SETTINGS],
  schema: z.object({ out: z.string().min(1).optional(), ...hashCost, ...base }),
  ...common,
  async run({ config, args, io }) {
    const file = args[0] as string;
    const text = await readFile(file, 'utf8').catch((err: Error) => {
      throw usageError([`<file.csv>: cannot read ${file}: ${err.message}`]);
    });
    let rows;
    try {
      rows = parseImportCsv(text);
    } catch (err) {
      throw new CliError('CONFIG_INVALID', (err as Error).message, { exitCode: EXIT.USAGE, cause: err });
    }
    const sink = config.out === undefined ? io.stdout : createWriteStream(config.out, { flags: 'wx', mode: 0o600 });
    if (config.out !== undefined) {
      await Promise.race([once(sink, 'open'), once(sink, 'error').then(([e]) => Promise.reject(usageError([`--out: ${(e as Error).message} (the file must not exist yet)`])))]);
    }
    const write = async (chunk: string): Promise<void> => {
      if (!sink.write(chunk)) await once(sink, 'drain');
    };
    const result = await withRegistry(config, io, async (r) => {
      await r.ensureTable();
      await write('deviceId,secret\n');
      let lastReportMs = 0;
      return importDevices(r.doc, r.registry, rows, {
        cost: { ...DEFAULT_HASH_COST, logN: config.hashCost },
        onStored: (creds) => write(creds.map((c) => `${c.deviceId},${c.secret}\n`).join('')),
        onProgress: ({ stored, total }) => {
          if (stored === total || Date.now() - lastReportMs >= 1000) {
            lastReportMs = Date.now();
            io.stderr.write(`imported ${stored} of ${total}\n`);
          }
        },
      });
    });
    if (sink !== io.stdout) await new Promise<void>((resolve) => sink.end(() => resolve()));
    if (result.skippedExisting.length > 0) {
      const shown = result.skippedExisting.slice(0, 10).join(', ');
      io.stderr.write(`skipped ${result.skippedExisting.length} device(s) already registered: ${shown}${result.skippedExisting.length > 10 ? ', ...' : ''}\n`);
    }
    io.stderr.write(`imported ${result.stored} device(s) into ${config.devicesTableName}${config.out ? `; secrets written to ${config.out}` : ''}\n`);
    return EXIT.OK;
  },
});

const ACTIONS: ReadonlyArray<readonly [string, CliCommand, string]> = [
  ['add', add, 'provision a device; prints its secret once'],
  ['list', presenceAction('list'), 'devices of a running service: presence and latest reading (over HTTP, --url)'],
  ['show', presenceAction('show'), 'one device of a running service, with its latest reading (over HTTP, --url)'],
  ['registry-list', list, 'the registry table itself: status and creation time of every device'],
  ['registry-show', show, 'one registry item: status, times, attributes, presence (never a secret)'],
  ['revoke', revoke, 'refuse a device from now on and close its live connections'],
  ['rotate', rotate, 'a new secret; the old one stays valid for --overlap-seconds'],
  ['import', importCommand, 'provision many devices from a CSV'],
];

/** `list` and `show` are the presence view (devices-presence.ts), which takes the action as its first argument. */
function presenceAction(action: 'list' | 'show'): CliCommand {
  return { run: async (argv, io) => (await import('./devices-presence.ts')).devicesPresenceCommand.run([action, ...argv], io) };
}

const OVERVIEW = `Usage: iot-ingest devices <action> [options]

The device registry (table --devices-table, default "devices"): who may connect with --auth password,
and the presence of the devices a running service sees.

Actions:
${formatRows(ACTIONS.map(([name, , summary]) => [name, summary] as const))}

Run "iot-ingest devices <action> --help" for an action's options.
`;

/** `devices <action> ...`: dispatches to the action's own command. */
export const devicesCommand: CliCommand = {
  async run(argv, io) {
    const [action, ...rest] = argv;
    if (action === undefined || action === '--help' || action === '-h') {
      (action === undefined ? io.stderr : io.stdout).write(OVERVIEW);
      return action === undefined ? EXIT.USAGE : EXIT.OK;
    }
    const found = ACTIONS.find(([name]) => name === action);
    if (!found) {
      io.stderr.write(`iot-ingest devices: unknown action "${action}": use ${ACTIONS.map(([n]) => n).join(', ')}\n`);
      return EXIT.USAGE;
    }
    return found[1].run(rest, io);
  },
};

