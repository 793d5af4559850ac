// What the API, the CLI and the broker ask of commands: create one (stored, then announced to the
// replica holding the device), read one, and take a device's answer.
import { COMMAND_NAME, DEVICE_ID, MAX_COMMAND_JSON_BYTES, currentStatus, newCommand } from './command.ts';
import type { CommandRecord, CommandRequest } from './command.ts';
import type { CommandMetrics } from './metrics.ts';
import type { CommandsTable } from './table.ts';

export const RESPONSE_REFUSALS = ['malformed', 'too_large', 'unknown_command', 'already_final', 'expired'] as const;
export type ResponseRefusal = (typeof RESPONSE_REFUSALS)[number];

export class CommandService {
  constructor(
    private readonly table: CommandsTable,
    /** Tells the replica holding the device (CommandDispatcher.announce). */
    private readonly announce: (deviceId: string) => void,
    private readonly metrics: CommandMetrics,
    private readonly now: () => number = Date.now,
  ) {}

  async create(deviceId: string, request: CommandRequest): Promise<CommandRecord> {
    const command = newCommand(deviceId, request, this.now());
    await this.table.put(command);
    this.metrics.created.inc();
    this.announce(deviceId);
    return command;
  }

  get(deviceId: string, commandId: string): Promise<CommandRecord | undefined> {
    return this.table.get(deviceId, commandId);
  }

  /**
   * A device's answer on devices/{id}/commands/response: {commandId, status, ...}. An answer that
   * changes nothing is counted (and still acknowledged, like an invalid reading); it rejects only
   * when the table cannot be written (then no PUBACK: the device resends).
   */
  async answer(deviceId: string, payload: Buffer): Promise<ResponseRefusal | 'answered'> {
    const refuse = (reason: ResponseRefusal): ResponseRefusal => {
      this.metrics.responsesRefused.inc({ reason });
      return reason;
    };
    if (payload.byteLength > MAX_COMMAND_JSON_BYTES) return refuse('too_large');
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      return refuse('malformed');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return refuse('malformed');
    const { commandId, ...response } = body as Record<string, unknown>;
    if (typeof commandId !== 'string' || commandId.length === 0 || commandId.length > 64) return refuse('malformed');
    const at = this.now();
    if ((await this.table.markAnswered(deviceId, commandId, at, response)) === 'changed') {
      this.metrics.transitions.inc({ to: 'answered' });
      return 'answered';
    }
    const existing = await this.table.get(deviceId, commandId);
    if (!existing) return refuse('unknown_command');
    if (currentStatus(existing, at) === 'expired') {
      if ((await this.table.markExpired(deviceId, commandId, at)) === 'changed') this.metrics.transitions.inc({ to: 'expired' });
      return refuse('expired');
    }
    return refuse('already_final');
  }

  /**
   * An application publishing on devices/{id}/commands/{name} over MQTT: the message body is the
   * command's payload; the command goes through the table like one created over HTTP.
   */
  async createFromMqtt(deviceId: string, name: string, payload: Buffer): Promise<CommandRecord | undefined> {
    if (!DEVICE_ID.test(deviceId) || !COMMAND_NAME.test(name) || payload.byteLength > MAX_COMMAND_JSON_BYTES) return undefined;
    let body: unknown = null;
    if (payload.byteLength > 0) {
      try {
        body = JSON.parse(payload.toString('utf8'));
      } catch {
        body = payload.toString('utf8');
      }
    }
    return this.create(deviceId, { name, payload: body });
  }
}
