// aedes' authorizePublish hook: the door of the pipeline, as named steps:
//   checkTopic -> (telemetry) decode -> rateStep -> deadLetter | queue -> release (the PUBACK)
// checkTopic asks the identity's topic rights (acl.ts): a refused PUBLISH closes the connection;
// command responses (devices) and commands (applications) are passed through to aedes, which
// delivers them to subscribers; telemetry goes down the pipeline. aedes writes the PUBACK only
// after this callback, so holding it is how durable acks and backpressure work: while a callback
// is held, aedes does not read further from that socket.
import type { Client, PublishPacket } from 'aedes';
import { IngestError } from '../errors.ts';
import type { AckMode } from '../config/schema.ts';
import type { Batcher, MessageOrigin, TicketListener } from '../ingest/batcher.ts';
import type { DeadLetterWriter } from '../ingest/dead-letter.ts';
import { decodeTelemetry } from '../ingest/decode.ts';
import type { DecodeLimits, DecodeResult } from '../ingest/decode.ts';
import { observeFast } from '../metrics/fast-observe.ts';
import type { Metrics } from '../metrics/registry.ts';
import { identityOf, mayPublish } from './acl.ts';
import type { PublishDecision } from './acl.ts';
import type { AclReason } from './auth-metrics.ts';
import { handleCommandPublish } from './command-publish.ts';
import type { CommandPublishHandler } from './command-publish.ts';
import type { RateStep, RateWaiter } from './limits/rate-step.ts';

export type PublishCallback = (error?: Error | null) => void;
export type AuthorizePublish = (client: Client | null, packet: PublishPacket, callback: PublishCallback) => void;

export interface PublishHookDeps {
  readonly ackMode: AckMode;
  readonly limits: DecodeLimits;
  readonly batcher: Batcher;
  readonly deadLetter: DeadLetterWriter;
  readonly metrics: Metrics;
  /** Marks why a client is about to be disconnected (for the disconnect metric). */
  readonly markDisconnectReason: (client: Client, reason: 'forbidden' | 'overloaded' | 'store_failed' | 'shutdown') => void;
  /** Counts and logs a PUBLISH the identity may not make (the connection is then closed). */
  readonly onDenied?: (client: Client, topic: string, reason: AclReason) => void;
  readonly now?: () => number;
  /** Device answers and application commands on the command topics. */
  readonly commands?: CommandPublishHandler;
  /** Per-device message/reading rate (token bucket): holds or refuses before anything is queued. */
  readonly rateStep?: RateStep;
  /** Told when a message is queued to be stored before its PUBACK, and when it is released (the broker's read gate). */
  readonly held?: { enter(): void; leave(): void };
}

function payloadOf(packet: PublishPacket): Buffer {
  return typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
}

export function createPublishHook(deps: PublishHookDeps): AuthorizePublish {
  const { metrics, batcher, deadLetter, limits } = deps;
  const heldGate = deps.held;
  const now = deps.now ?? Date.now;
  const durable = deps.ackMode === 'durable';

  // Per-message counts are summed and handed to prom-client once per turn of the microtask queue
  // (a stored batch releases its PUBACKs together): the same values by the time anything can read
  // them, without a labelled prom-client call per message.
  let storedMessages = 0;
  let receivedBytes = 0;
  let heldDelta = 0;
  let flushQueued = false;
  const flushCounts = (): void => {
    flushQueued = false;
    if (storedMessages > 0) metrics.messagesReceivedTotal.inc({ result: 'stored' }, storedMessages);
    if (receivedBytes > 0) metrics.receivedBytesTotal.inc(receivedBytes);
    if (heldDelta !== 0) metrics.heldPublishes.inc(heldDelta);
    storedMessages = receivedBytes = heldDelta = 0;
  };
  const queueFlush = (): void => {
    if (flushQueued) return;
    flushQueued = true;
    queueMicrotask(flushCounts);
  };

  // Messages the store confirmed are released together once per turn of the event loop
  // (setImmediate): every batch the store answered in that turn, so that a connection with several
  // messages in several batches gets one socket write for all its PUBACKs, not one per batch.
  // Anything that closes a connection (a store failure, a refusal) runs after the PUBACKs already
  // due: mqtt-packet writes them on the next tick (cork/uncork), so closing waits a tick after them.
  let storedReleases: PendingPublish[] = [];
  let closing: (() => void)[] = [];
  let releaseScheduled = false;
  let releasing = false;
  const releaseDue = (): void => {
    releaseScheduled = false;
    releasing = true;
    try {
      while (storedReleases.length > 0) {
        const list = storedReleases;
        storedReleases = [];
        for (const pending of list) pending.releaseNow(null);
      }
    } finally {
      releasing = false;
    }
    if (closing.length > 0) {
      const actions = closing;
      closing = [];
      process.nextTick(runAll, actions);
    }
  };
  const runAll = (actions: (() => void)[]): void => {
    for (const action of actions) action();
  };
  const scheduleRelease = (): void => {
    if (releaseScheduled) return;
    releaseScheduled = true;
    setImmediate(releaseDue);
  };
  /** At the end of this turn, in order with the PUBACKs the store confirmed before it. */
  const queueStored = (pending: PendingPublish): void => {
    storedReleases.push(pending);
    scheduleRelease();
  };
  const queueClose = (action: () => void): void => {
    closing.push(action);
    scheduleRelease();
  };
  /** Now, unless PUBACKs are due: then right after they are written. */
  const closeAfterDueAcks = (action: () => void): void => {
    if (!releasing && storedReleases.length === 0) return action();
    closing.push(action);
    if (!releasing) releaseDue();
  };

  /** The identity's right to this topic; undefined (and the callback answered) when refused. */
  function checkTopic(client: Client, packet: PublishPacket, callback: PublishCallback): PublishDecision & { allowed: true } | undefined {
    const identity = identityOf(client);
    const decision: PublishDecision | { allowed: false; reason: 'no_identity' } = identity ? mayPublish(identity, packet.topic) : { allowed: false, reason: 'no_identity' };
    if (decision.allowed) return decision;
    metrics.messagesReceivedTotal.inc({ result: 'forbidden' });
    deps.onDenied?.(client, packet.topic, decision.reason);
    deps.markDisconnectReason(client, 'forbidden');
    const refusal = new IngestError('TOPIC_FORBIDDEN', `publishing to "${packet.topic}" is not allowed for this client (${decision.reason}); a device publishes to devices/{its id}/telemetry`);
    closeAfterDueAcks(() => callback(refusal));
    return undefined;
  }

  /**
   * One telemetry PUBLISH on its way through the rate step, the dead-letter or the queue, to its
   * PUBACK. One object per message carries what closures and a promise per message used to (it is
   * the rate step's waiter, the ticket's listener and the message's origin for the dead-letter).
   */
  class PendingPublish implements RateWaiter, TicketListener, MessageOrigin {
    // Few fields: thousands of these are held at once under load, each for as long as its store
    // write takes, and what they keep is what the young-generation collections copy.
    readonly qos: number;
    private readonly holdUntilStored: boolean;
    /**
     * Queued and held until stored: what the read gate counts. Messages a device's rate holds, or
     * that wait for a dead-letter slot or for queue space, are not counted: they are that device's
     * own backlog (bounded by their own limits), and must not stop the broker reading the others.
     */
    private awaitingStore = false;

    constructor(
      private readonly client: Client,
      private readonly packet: PublishPacket,
      private readonly callback: PublishCallback,
      private readonly deviceId: string,
      private readonly receivedAt: number,
      /** Until the message is queued (or dead-lettered): the queue holds the readings after that. */
      private decoded: DecodeResult | undefined,
    ) {
      this.qos = packet.qos; // read again at the PUBACK: kept here, beside the other fields used then
      this.holdUntilStored = durable && packet.qos > 0;
      heldDelta++;
      queueFlush();
    }

    get clientId(): string {
      return this.client.id;
    }

    /** Releases the PUBACK (or closes the connection with `err`), with the held-publish accounting. */
    release(err: Error | null): void {
      if (err === null) this.releaseNow(null);
      else closeAfterDueAcks(() => this.releaseNow(err));
    }

    releaseNow(err: Error | null): void {
      heldDelta--;
      if (this.awaitingStore) {
        this.awaitingStore = false;
        heldGate?.leave();
      }
      queueFlush();
      if (this.qos > 0 && err === null) observeFast(metrics.pubackLatencySeconds, (now() - this.receivedAt) / 1000);
      this.callback(err);
    }

    /** Past the rate step: an invalid payload to the dead-letter, readings to the queue. */
    proceed(): void {
      const decoded = this.decoded as DecodeResult;
      // Not kept while the message waits for its PUBACK: what a held message keeps is what the
      // young-generation collections copy, thousands of times a second under load.
      this.decoded = undefined;
      if (!decoded.ok) return this.deadLetter(decoded);
      // Fast path: room in the queue now, no promise hop per message.
      if (batcher.offer(decoded.readings, this, this)) return this.queued();
      batcher.submitWhenRoom(decoded.readings, this, this).then(
        () => this.queued(),
        (err: IngestError) => {
          metrics.messagesReceivedTotal.inc({ result: 'limited' });
          deps.markDisconnectReason(this.client, err.code === 'SHUTTING_DOWN' ? 'shutdown' : 'overloaded');
          this.release(err);
        },
      );
    }

    refuse(err: Error): void {
      metrics.messagesReceivedTotal.inc({ result: 'limited' });
      deps.markDisconnectReason(this.client, 'overloaded');
      this.release(err);
    }

    /** Queued: PUBACK at once (received mode, QoS 0), or once stored (durable: `settled`). */
    private queued(): void {
      if (!this.holdUntilStored) return this.release(null);
      this.awaitingStore = true;
      heldGate?.enter();
    }

    settled(failure: Error | undefined): void {
      if (failure === undefined) {
        storedMessages++;
        queueFlush();
        if (this.holdUntilStored) queueStored(this);
        return;
      }
      metrics.messagesReceivedTotal.inc({ result: 'failed' });
      // No PUBACK: closing the connection makes the device resend after reconnecting.
      if (this.holdUntilStored) {
        deps.markDisconnectReason(this.client, 'store_failed');
        queueClose(() => this.releaseNow(failure));
      }
    }


    /** An invalid payload is dead-lettered and acknowledged. */
    private deadLetter(decoded: DecodeResult & { ok: false }): void {
      metrics.messagesReceivedTotal.inc({ result: 'invalid' });
      metrics.invalidMessagesTotal.inc({ reason: decoded.reason });
      const ticket = deadLetter.write({
        deviceId: this.deviceId,
        topic: this.packet.topic,
        clientId: this.clientId,
        reason: decoded.reason,
        errorMessage: decoded.message,
        payload: payloadOf(this.packet),
        receivedAt: this.receivedAt,
        qos: this.qos,
      });
      // Acknowledged either way, so a device does not resend a poison message forever. A QoS 1
      // message waits for a dead-letter write slot (backpressure); QoS 0 never waits.
      if (this.holdUntilStored) void ticket.settled.then(() => this.release(null));
      else if (this.qos > 0) void ticket.admitted.then(() => this.release(null));
      else this.release(null);
    }
  }

  return function authorizePublish(client, packet, callback) {
    // Packets the broker publishes itself ($SYS heartbeats, wills, commands) are not checked here.
    if (client === null) return callback(null);
    const decision = checkTopic(client, packet, callback);
    if (decision === undefined) return;
    // Command responses (devices) and commands (applications): stored by the command service when
    // there is one, then on to aedes and its subscribers.
    if (decision.kind !== 'telemetry') {
      if (deps.commands && handleCommandPublish(deps.commands, client, packet, callback, (c) => deps.markDisconnectReason(c, 'store_failed'))) return;
      return callback(null);
    }
    packet.retain = false; // readings go to DynamoDB, never to the broker's retained store
    const receivedAt = now();
    const payload = payloadOf(packet);
    receivedBytes += payload.byteLength;
    queueFlush();
    const decoded = decodeTelemetry(payload, decision.deviceId, receivedAt, limits);
    const pending = new PendingPublish(client, packet, callback, decision.deviceId, receivedAt, decoded);
    // The device's rate (token bucket) comes before the dead-letter or the queue.
    if (deps.rateStep === undefined) return pending.proceed();
    deps.rateStep(decision.deviceId, decoded.ok ? decoded.readings.length : 0, pending);
  };
}
