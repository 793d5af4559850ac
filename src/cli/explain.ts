// The one place where an error a user can meet becomes one line naming the thing and the fix:
// endpoint unreachable, table missing, credentials missing or refused, port in use, bad flag value.
// Commands attach what they were talking to (withHints); nothing else formats errors for humans.
import { CliError, IngestError } from '../errors.ts';
import { EXIT } from './exit-codes.ts';

export interface ErrorHints {
  /** DynamoDB endpoint the call went to; undefined = AWS itself. */
  readonly endpoint?: string | undefined;
  readonly region?: string;
  /** Table the call was about, and the setting that names it. */
  readonly table?: string;
  readonly tableSetting?: string;
  /** MQTT broker URL the call went to (dlq replay). */
  readonly mqttUrl?: string;
  /** Ports the command listens on, with the setting that sets each. */
  readonly ports?: ReadonlyArray<{ readonly port: number; readonly setting: string }>;
}

class HintedError extends Error {
  constructor(readonly hints: ErrorHints, cause: unknown) {
    super((cause as Error)?.message ?? String(cause), { cause });
    this.name = 'HintedError';
  }
}

/** Runs `fn`; an error it throws carries `hints` to explainError. */
export async function withHints<T>(hints: ErrorHints, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof CliError ? err : new HintedError(hints, err);
  }
}

export interface Explained {
  /** One line (empty: end quietly). */
  readonly line: string;
  readonly exitCode: number;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH']);

function codeOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; errno?: unknown; name?: unknown } | undefined;
  if (typeof e?.code === 'string') return e.code;
  if (e?.name === 'TimeoutError') return 'ETIMEDOUT';
  const errors = (err as { errors?: unknown[] })?.errors;
  return Array.isArray(errors) ? codeOf(errors[0]) : undefined;
}

function dynamoTarget(h: ErrorHints): string {
  return h.endpoint ? `DynamoDB at ${h.endpoint}` : `DynamoDB (AWS, region ${h.region ?? 'from AWS_REGION'})`;
}

function explainWith(err: Error, h: ErrorHints): string | undefined {
  const code = codeOf(err);
  const name = err.name;
  if (code === 'EADDRINUSE' || /EADDRINUSE/.test(err.message)) {
    const port = (err as { port?: number }).port ?? Number(/port (\d+)/.exec(err.message)?.[1] ?? Number.NaN);
    const owner = h.ports?.find((p) => p.port === port) ?? (/embedded/i.test(err.message) ? h.ports?.find((p) => /embedded/.test(p.setting)) : undefined);
    const setting = owner?.setting ?? h.ports?.map((p) => p.setting).join(' or ') ?? 'the port settings';
    return `port ${Number.isNaN(port) ? owner?.port ?? '?' : port} is already in use (another iot-ingest or broker running?): stop it or set ${setting} to a free port (0 picks one)`;
  }
  if (code === 'EACCES' && (err as { syscall?: string }).syscall === 'listen') {
    const port = (err as { port?: number }).port;
    const setting = h.ports?.find((p) => p.port === port)?.setting ?? 'the port';
    return `port ${String(port)} needs privileges: set ${setting} to a port above 1023`;
  }
  if (h.mqttUrl && code && UNREACHABLE.has(code)) {
    return `cannot reach the MQTT broker at ${h.mqttUrl} (${code}): is \`iot-ingest serve\` running? set --url / MQTT_URL`;
  }
  if (code && UNREACHABLE.has(code)) {
    const fix = h.endpoint
      ? 'start it (`iot-ingest serve` runs an embedded one on 127.0.0.1:4567) or set --dynamodb-endpoint / DYNAMODB_ENDPOINT'
      : 'check the network and --region / AWS_REGION';
    return `cannot reach ${dynamoTarget(h)} (${code}): ${fix}`;
  }
  if (name === 'ResourceNotFoundException' && h.table) {
    return `table "${h.table}" not found at ${dynamoTarget(h)}: create it with \`iot-ingest table create\` or set ${h.tableSetting ?? '--table / TABLE_NAME'}`;
  }
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(err.message)) {
    return `AWS credentials missing for ${dynamoTarget(h)}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or point --dynamodb-endpoint / DYNAMODB_ENDPOINT at a local server`;
  }
  if (['UnrecognizedClientException', 'InvalidSignatureException', 'AccessDeniedException', 'ExpiredTokenException'].includes(name)) {
    return `${dynamoTarget(h)} refused the credentials (${name}): check AWS_ACCESS_KEY_ID / AWS_PROFILE and the IAM policy`;
  }
  return undefined;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/** The one line (and exit code) a user sees for `err`. With `debug`, the stack follows. */
export function explainError(err: unknown, debug = false): Explained {
  const hints = err instanceof HintedError ? err.hints : {};
  const cause = err instanceof HintedError ? (err.cause as Error) : (err as Error);
  if (codeOf(cause) === 'EPIPE' || codeOf(cause) === 'ERR_STREAM_DESTROYED') return { line: '', exitCode: EXIT.FAILURE };
  if (cause instanceof CliError) return { line: cause.message, exitCode: cause.exitCode };
  // Walk the cause chain: the service wraps listener and store errors.
  let line: string | undefined;
  for (let e: unknown = cause; e instanceof Error && line === undefined; e = e.cause) line = explainWith(e, hints);
  if (line === undefined) {
    if (cause instanceof IngestError) line = firstLine(cause.message);
    else {
      line = `${cause?.name ?? 'Error'}: ${firstLine(cause?.message ?? String(cause))}`;
      if (!debug) line += ' (run with --log-level debug for details)';
    }
  }
  if (debug && cause instanceof Error && cause.stack) line += `\n${cause.stack}`;
  return { line, exitCode: EXIT.FAILURE };
}
