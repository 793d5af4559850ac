// A command sent to one device: its stored shape, the request that creates it, its id and how its
// status reads at a given time (a queued or delivered command past its deadline reads "expired").
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

export const COMMAND_STATUSES = ['queued', 'delivered', 'answered', 'expired'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

export const DEFAULT_COMMAND_TTL_SECONDS = 3_600;
export const MAX_COMMAND_TTL_SECONDS = 30 * 86_400;
/** Largest command payload or device answer, as JSON text. */
export const MAX_COMMAND_JSON_BYTES = 64 * 1024;
/** How long a finished or expired command stays readable before DynamoDB's TTL removes it. */
export const COMMAND_RETENTION_SECONDS = 86_400;

export const COMMAND_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
export const DEVICE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Body of POST /devices/{id}/commands (and what `iot-ingest command` sends). */
export const commandRequestSchema = z.strictObject({
  name: z
    .string({ error: 'required: a command name' })
    .regex(COMMAND_NAME, 'must be 1-64 chars of [A-Za-z0-9_.:-]')
    .refine((n) => n !== 'response', '"response" is the topic devices answer on'),
  payload: z.unknown().optional(),
  ttlSeconds: z.number().int('must be an integer').min(1).max(MAX_COMMAND_TTL_SECONDS).optional(),
});
export type CommandRequest = z.infer<typeof commandRequestSchema>;

export interface CommandRecord {
  readonly deviceId: string;
  readonly commandId: string;
  readonly name: string;
  readonly payload: unknown;
  readonly status: CommandStatus;
  /** Epoch ms. */
  readonly issuedAt: number;
  /** Epoch ms: not delivered or not answered by then, the command is expired. */
  readonly deadlineAt: number;
  /** Epoch seconds; DynamoDB's TTL removes the item after it. */
  readonly purgeAt: number;
  readonly deliveredAt?: number;
  readonly answeredAt?: number;
  /** What the device answered, without the commandId. */
  readonly response?: Record<string, unknown>;
  readonly deliveredBy?: string;
}

/** What the device receives on devices/{id}/commands/{name}. */
export interface CommandMessage {
  readonly commandId: string;
  readonly name: string;
  readonly payload: unknown;
  readonly issuedAt: number;
}

/** Time-ordered ids: a Query by commandId returns commands in the order they were issued. */
export function newCommandId(now: number): string {
  return `${now.toString(36).padStart(9, '0')}-${randomBytes(5).toString('hex')}`;
}

export function newCommand(deviceId: string, request: CommandRequest, now: number): CommandRecord {
  const ttlSeconds = request.ttlSeconds ?? DEFAULT_COMMAND_TTL_SECONDS;
  const deadlineAt = now + ttlSeconds * 1000;
  return {
    deviceId,
    commandId: newCommandId(now),
    name: request.name,
    payload: request.payload ?? null,
    status: 'queued',
    issuedAt: now,
    deadlineAt,
    purgeAt: Math.ceil(deadlineAt / 1000) + COMMAND_RETENTION_SECONDS,
  };
}

/** The status as it reads now: past the deadline and not answered means expired. */
export function currentStatus(c: Pick<CommandRecord, 'status' | 'deadlineAt'>, now: number): CommandStatus {
  if ((c.status === 'queued' || c.status === 'delivered') && now > c.deadlineAt) return 'expired';
  return c.status;
}

export function commandTopic(deviceId: string, name: string): string {
  return `devices/${deviceId}/commands/${name}`;
}

export function commandMessage(c: CommandRecord): CommandMessage {
  return { commandId: c.commandId, name: c.name, payload: c.payload, issuedAt: c.issuedAt };
}

/** The public view of a command (API, CLI). */
export function describeCommand(c: CommandRecord, now: number): Record<string, unknown> {
  const { purgeAt: _purge, ...rest } = c;
  return { ...rest, status: currentStatus(c, now) };
}
