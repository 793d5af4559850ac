// Delivers commands from the table to connected devices and records what the devices did with them.
//
// - Which replica delivers: a new command is announced on the broker's emitter
//   ($iot-ingest/commands/{deviceId}; mqemitter-redis carries it to every replica in cluster mode);
//   the replica holding the device's connection, once the device is subscribed to its command
//   topic, reads the device's queued commands from the table and publishes them (QoS 1). A device
//   that connects later gets them the same way, with clean=1 too: the table is the only source.
// - Delivered: aedes reports no packet with the PUBACK of a clean session (moscajs/aedes#257), so
//   each command message gets its packet id here (authorizeForward, which aedes asks before every
//   delivery) and PUBACKs are observed where aedes clears the id (persistence.outgoingClearMessageId).
//   The PUBACK moves the command queued -> delivered with a conditional write; a command delivered
//   or answered is never sent again, after a restart or on another replica. Until the write lands,
//   a local record of the ack keeps a quick reconnect from receiving it again.
// - Anything else on a command topic (a broker session's stored copy, a raw publish) is not
//   forwarded: commands reach devices only from the table.
import type { Aedes, Client } from 'aedes';
import type { Logger } from 'pino';
import { effectiveIdentity } from '../broker/identity.ts';
import { filterMatches, internalsOf, subscriptionsOf } from '../broker/internals.ts';
import type { BrokerInternals, EmitterPacket } from '../broker/internals.ts';
import { commandMessage, commandTopic } from './command.ts';
import type { CommandRecord } from './command.ts';
import type { CommandMetrics } from './metrics.ts';
import type { CommandsTable } from './table.ts';
import { retry } from '../retry.ts';
import { toStoreError } from '../storage/errors.ts';

const ANNOUNCE_PREFIX = '$iot-ingest/commands/';
/** Commands awaiting PUBACK on one connection at most; more are sent as acks come back. */
export const MAX_INFLIGHT_COMMANDS_PER_CONNECTION = 20;
const RECENT_ACKS = 10_000;
const COMMAND_TOPIC = /^devices\/([^/]+)\/commands\/([^/]+)$/;

interface Connection {
  readonly deviceId: string;
  nextMessageId: number;
  /** packet id -> commandId, assigned when aedes forwards the message. */
  readonly byMessageId: Map<number, string>;
  /** commandIds published on this connection and not yet acknowledged. */
  readonly inflight: Set<string>;
}

export interface DispatcherOptions {
  readonly aedes: Aedes;
  readonly table: CommandsTable;
  readonly metrics: CommandMetrics;
  readonly replica: string;
  readonly log: Logger;
  readonly now?: () => number;
}

export class CommandDispatcher {
  private readonly broker: BrokerInternals;
  private readonly connections = new WeakMap<Client, Connection>();
  private readonly byDevice = new Map<string, Client>();
  /** Payload buffers of the messages this dispatcher publishes, with their commandIds. */
  private readonly issued = new WeakMap<Buffer, string>();
  private readonly recentAcks = new Map<string, true>();
  private readonly running = new Map<string, { again: boolean; done: Promise<void> }>();
  private readonly pendingWrites = new Set<Promise<unknown>>();
  private readonly now: () => number;
  private readonly onAnnounce = (packet: EmitterPacket, done: () => void): void => {
    done();
    this.deliverPending(packet.topic.slice(ANNOUNCE_PREFIX.length));
  };

  constructor(private readonly o: DispatcherOptions) {
    this.broker = internalsOf(o.aedes);
    this.now = o.now ?? Date.now;
  }

  /** Hooks into the broker's events, its emitter and its persistence. Call once. */
  attach(): void {
    const { aedes } = this.o;
    this.broker.mq.on(`${ANNOUNCE_PREFIX}+`, this.onAnnounce);
    aedes.on('clientReady', (client) => {
      const identity = effectiveIdentity(client);
      if (identity?.role !== 'device') return;
      this.connections.set(client, { deviceId: identity.id, nextMessageId: 1 + Math.floor(Math.random() * 65_535), byMessageId: new Map(), inflight: new Set() });
      this.byDevice.set(identity.id, client);
      // A persistent session's subscriptions come back without a SUBSCRIBE.
      if (this.subscribedTopics(client).length > 0) this.deliverPending(identity.id);
    });
    aedes.on('clientDisconnect', (client) => {
      const c = this.connections.get(client);
      if (c && this.byDevice.get(c.deviceId) === client) this.byDevice.delete(c.deviceId);
      this.connections.delete(client);
    });
    aedes.on('subscribe', (subs, client) => {
      const c = this.connections.get(client);
      if (c && subs.some((s) => (s.qos as number) !== 128 && s.topic.startsWith(`devices/${c.deviceId}/commands/`))) this.deliverPending(c.deviceId);
    });
    const persistence = this.broker.persistence;
    const clear = persistence.outgoingClearMessageId.bind(persistence);
    persistence.outgoingClearMessageId = (client, packet) => {
      if (packet.cmd === 'puback' && packet.messageId !== undefined) this.onPuback(client, packet.messageId);
      return clear(client, packet);
    };
  }

  /** Tells every replica that `deviceId` has a new command. */
  announce(deviceId: string): void {
    this.broker.mq.emit({ topic: `${ANNOUNCE_PREFIX}${deviceId}`, payload: '' });
  }

  /** aedes' authorizeForward for command topics: only table-issued messages, each with its packet id. */
  forward<P extends { topic: string; payload: Buffer | string; messageId?: number | undefined }>(client: Client, packet: P): P | null {
    if (!COMMAND_TOPIC.test(packet.topic)) return packet;
    const commandId = typeof packet.payload === 'string' ? undefined : this.issued.get(packet.payload);
    const c = this.connections.get(client);
    // A stored session copy comes with its old packet id: the table, not the session, resends it.
    if (commandId === undefined || c === undefined || packet.messageId !== undefined) {
      this.o.metrics.foreignDropped.inc();
      return null;
    }
    let id = c.nextMessageId;
    while (c.byMessageId.has(id)) id = id >= 65_535 ? 1 : id + 1;
    c.nextMessageId = id >= 65_535 ? 1 : id + 1;
    c.byMessageId.set(id, commandId);
    return { ...packet, messageId: id };
  }

  inflightCount(): number {
    let n = 0;
    for (const client of this.byDevice.values()) n += this.connections.get(client)?.inflight.size ?? 0;
    return n;
  }

  /** Resolves once the status writes started so far have finished (shutdown). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.pendingWrites]);
  }

  close(): void {
    this.broker.mq.removeListener(`${ANNOUNCE_PREFIX}+`, this.onAnnounce);
  }

  /** Sends the device's queued commands, if it is connected here and subscribed. One run per device at a time. */
  deliverPending(deviceId: string): void {
    const run = this.running.get(deviceId);
    if (run) {
      run.again = true;
      return;
    }
    const state = { again: false, done: Promise.resolve() };
    this.running.set(deviceId, state);
    state.done = (async () => {
      do {
        state.again = false;
        try {
          await this.deliverOnce(deviceId);
        } catch (err) {
          this.o.log.warn({ err, deviceId }, 'could not deliver pending commands; next attempt on the next command or reconnect');
        }
      } while (state.again);
      this.running.delete(deviceId);
    })();
  }

  private async deliverOnce(deviceId: string): Promise<void> {
    const client = this.byDevice.get(deviceId);
    const c = client && this.connections.get(client);
    if (!client || !c || this.subscribedTopics(client).length === 0) return;
    // An ack of this device still being written must land first, or the query could see it queued.
    await Promise.allSettled([...this.pendingWrites]);
    const room = MAX_INFLIGHT_COMMANDS_PER_CONNECTION - c.inflight.size;
    if (room <= 0) return;
    const pending = await this.o.table.pending(deviceId, room + c.inflight.size);
    for (const command of pending) {
      if (client.closed || c.inflight.size >= MAX_INFLIGHT_COMMANDS_PER_CONNECTION) return;
      if (c.inflight.has(command.commandId) || this.recentAcks.has(ackKey(deviceId, command.commandId))) continue;
      if (this.now() > command.deadlineAt) {
        this.track(this.o.table.markExpired(deviceId, command.commandId, this.now()).then((t) => t === 'changed' && this.o.metrics.transitions.inc({ to: 'expired' })));
        continue;
      }
      const topic = commandTopic(deviceId, command.name);
      if (!this.subscribedTopics(client).some((f) => filterMatches(f, topic))) continue;
      this.publish(client, c, command, topic);
    }
  }

  private publish(client: Client, c: Connection, command: CommandRecord, topic: string): void {
    const payload = Buffer.from(JSON.stringify(commandMessage(command)));
    this.issued.set(payload, command.commandId);
    c.inflight.add(command.commandId);
    this.o.metrics.sent.inc();
    client.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, () => undefined);
  }

  private onPuback(client: Client, messageId: number): void {
    const c = this.connections.get(client);
    const commandId = c?.byMessageId.get(messageId);
    if (!c || commandId === undefined) return;
    c.byMessageId.delete(messageId);
    c.inflight.delete(commandId);
    this.recentAcks.set(ackKey(c.deviceId, commandId), true);
    if (this.recentAcks.size > RECENT_ACKS) this.recentAcks.delete(this.recentAcks.keys().next().value as string);
    const deviceId = c.deviceId;
    this.track(
      this.writeWithRetry(() => this.o.table.markDelivered(deviceId, commandId, this.now(), this.o.replica)).then((t) => {
        if (t === 'changed') this.o.metrics.transitions.inc({ to: 'delivered' });
        this.deliverPending(deviceId);
      }),
    );
  }

  /** A status write, retried (5 attempts) when the store's error says waiting can cure it. */
  private writeWithRetry<T>(write: () => Promise<T>): Promise<T> {
    return retry(write, { maxAttempts: 5, backoff: { baseMs: 100, capMs: 1_600 }, isRetriable: (err) => toStoreError(err).retriable });
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => this.o.log.warn({ err }, 'command status write failed'));
    this.pendingWrites.add(tracked);
    void tracked.finally(() => this.pendingWrites.delete(tracked));
  }

  private subscribedTopics(client: Client): string[] {
    const c = this.connections.get(client);
    return c ? subscriptionsOf(client).filter((f) => f.startsWith(`devices/${c.deviceId}/commands/`)) : [];
  }
}

function ackKey(deviceId: string, commandId: string): string {
  return `${deviceId}\u0000${commandId}`;
}
