// A do-nothing DynamoDB-API endpoint: answers the calls the service makes (DescribeTable,
// CreateTable, UpdateTimeToLive, PutItem, UpdateItem, BatchWriteItem, ...) at once, stores nothing, and counts
// the items it was asked to write. Run against it, the service shows what its own pipeline costs
// without a database's cost in the way. Forked by bench/run.ts; reports its port over IPC.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import { onParent, toParent } from './ipc.ts';

interface TableDefinition {
  TableName: string;
  KeySchema: unknown[];
  AttributeDefinitions: unknown[];
}

const tables = new Map<string, TableDefinition>();
let items = 0;
let requests = 0;

function reply(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, Buffer.from(JSON.stringify(body)));
}

function send(res: ServerResponse, status: number, text: Buffer): void {
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': text.length,
    'x-amz-crc32': String(crc32(text) >>> 0),
    'x-amzn-requestid': 'null-dynamo',
  });
  res.end(text);
}

function error(res: ServerResponse, name: string, message: string): void {
  reply(res, 400, { __type: `com.amazonaws.dynamodb.v20120810#${name}`, message });
}

function describe(t: TableDefinition): Record<string, unknown> {
  return {
    ...t,
    TableStatus: 'ACTIVE',
    TableArn: `arn:aws:dynamodb:us-east-1:000000000000:table/${t.TableName}`,
    CreationDateTime: 0,
    ItemCount: 0,
    TableSizeBytes: 0,
    BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
  };
}

function handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
  const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
  const input = (raw ? JSON.parse(raw) : {}) as Record<string, unknown>;
  const name = String(input.TableName ?? '');
  switch (operation) {
    case 'BatchWriteItem': {
      requests++;
      const consumed: { TableName: string; CapacityUnits: number }[] = [];
      for (const [table, writes] of Object.entries((input.RequestItems ?? {}) as Record<string, unknown[]>)) {
        items += writes.length;
        consumed.push({ TableName: table, CapacityUnits: writes.length });
      }
      return reply(res, 200, { UnprocessedItems: {}, ...(input.ReturnConsumedCapacity === 'TOTAL' ? { ConsumedCapacity: consumed } : {}) });
    }
    case 'PutItem':
      requests++;
      items++;
      return reply(res, 200, {});
    // Presence (last seen, latest reading) and the registry update, read and delete single items:
    // answered as if applied, so the service does not retry them every flush (not counted as readings).
    case 'UpdateItem':
    case 'DeleteItem':
    case 'GetItem':
      return reply(res, 200, {});
    case 'BatchGetItem':
      return reply(res, 200, { Responses: {}, UnprocessedKeys: {} });
    case 'DescribeTable': {
      const t = tables.get(name);
      return t ? reply(res, 200, { Table: describe(t) }) : error(res, 'ResourceNotFoundException', `Requested resource not found: Table: ${name} not found`);
    }
    case 'CreateTable': {
      if (tables.has(name)) return error(res, 'ResourceInUseException', `Table already exists: ${name}`);
      const t: TableDefinition = { TableName: name, KeySchema: input.KeySchema as unknown[], AttributeDefinitions: input.AttributeDefinitions as unknown[] };
      tables.set(name, t);
      return reply(res, 200, { TableDescription: describe(t) });
    }
    case 'UpdateTimeToLive':
      return reply(res, 200, { TimeToLiveSpecification: input.TimeToLiveSpecification });
    case 'ListTables':
      return reply(res, 200, { TableNames: [...tables.keys()] });
    case 'Query':
    case 'Scan':
      return reply(res, 200, { Items: [], Count: 0, ScannedCount: 0 });
    default:
      return error(res, 'UnknownOperationException', `operation ${operation} is not offered by the null endpoint`);
  }
}

// The BatchWriteItem bodies the service sends (one table, puts) are counted without parsing them:
// JSON.parse of each 25-item body made this endpoint the costliest process on the machine after the
// broker (about 6 µs of CPU per reading), on the cores the pipeline it measures runs on. In a
// BatchWriteItem body `{"PutRequest":{"Item":` cannot occur but as a write: inside a string its quotes
// would be escaped, and an attribute (or map key) named PutRequest has a typed value (`{"M":`,
// `{"S":`, ...), never `{"Item":`. So counting it, and `":[{"PutRequest":{"Item":` (a table's list
// opening), is exact. A body with more than one table, deletes, or anything else unexpected is
// parsed as before.
const PUT = Buffer.from('{"PutRequest":{"Item":');
const TABLE_OPEN = Buffer.from('":[{"PutRequest":{"Item":');
const BODY_START = Buffer.from('{"RequestItems":{"');
const DELETE = Buffer.from('"DeleteRequest"');
const RETURN_TOTAL = Buffer.from('"ReturnConsumedCapacity":"TOTAL"');

function occurrences(body: Buffer, needle: Buffer, limit = Infinity): number {
  let n = 0;
  for (let at = body.indexOf(needle); at >= 0 && n < limit; at = body.indexOf(needle, at + needle.length)) n++;
  return n;
}

/** Answers a one-table, puts-only BatchWriteItem body without parsing it; false when the body is not one. */
function batchWriteFast(res: ServerResponse, body: Buffer): boolean {
  if (body.indexOf(BODY_START) !== 0 || occurrences(body, TABLE_OPEN, 2) !== 1 || body.indexOf(DELETE) >= 0) return false;
  const tableEnd = body.indexOf(TABLE_OPEN);
  const table = body.toString('utf8', BODY_START.length - 1, tableEnd + 1); // the name, quoted as JSON
  const writes = occurrences(body, PUT);
  requests++;
  items += writes;
  const consumed = body.indexOf(RETURN_TOTAL) >= 0 ? `,"ConsumedCapacity":[{"TableName":${table},"CapacityUnits":${writes}}]` : '';
  send(res, 200, Buffer.from(`{"UnprocessedItems":{}${consumed}}`));
  return true;
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    try {
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      if (req.headers['x-amz-target'] === 'DynamoDB_20120810.BatchWriteItem' && batchWriteFast(res, body)) return;
      handle(req, res, body.toString('utf8'));
    } catch (err) {
      error(res, 'SerializationException', (err as Error).message);
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  toParent({ type: 'ready', port: (server.address() as AddressInfo).port });
});
onParent((message) => {
  if (message.type === 'stats') toParent({ type: 'stats', stats: { received: items, stored: items, requests, failed: 0 } });
});
