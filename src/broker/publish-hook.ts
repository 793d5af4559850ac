// aedes' authorizePublish hook: the door of the pipeline, as named steps:
//   checkTopic -> (telemetry) decode -> rateStep -> deadLetter | enqueue -> releaseAck
// checkTopic asks the identity's topic rights (acl.ts): a refused PUBLISH closes the connection;
// command responses (devices) and commands (applications) are passed through to aedes, which
// delivers them to subscribers; telemetry goes down the pipeline. aedes writes the PUBACK only
// after this callback, so holding it is how durable acks and backpressure work: while a callback
// is held, aedes does not read further from that socket.
import type { Client, PublishPacket } from 'aedes';
import { IngestError } from '../errors.ts';
import type { AckMode } from '../config/schema.ts';
import type { Batcher, Submission } from '../ingest/batcher.ts';
import type { DeadLetterWriter } from '../ingest/dead-letter.ts';
import { decodeTelemetry } from '../ingest/decode.ts';
import type { DecodeLimits } from '../ingest/decode.ts';
import type { Metrics } from '../metrics/registry.ts';
import { identityOf, mayPublish } from './acl.ts';
import type { PublishDecision } from './acl.ts';
import type { AclReason } from './auth-metrics.ts';
import { handleCommandPublish } from './command-publish.ts';
import type { CommandPublishHandler } from './command-publish.ts';
import type { RateStep } from './limits/rate-step.ts';

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
}

export function createPublishHook(deps: PublishHookDeps): AuthorizePublish {
  const { metrics, batcher, deadLetter, limits } = deps;
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

  /** The identity's right to this topic; undefined (and the callback answered) when refused. */
  function checkTopic(client: Client, packet: PublishPacket, callback: PublishCallback): PublishDecision & { allowed: true } | undefined {
    const identity = identityOf(client);
    const decision: PublishDecision | { allowed: false; reason: 'no_identity' } = identity ? mayPublish(identity, packet.topic) : { allowed: false, reason: 'no_identity' };
    if (decision.allowed) return decision;
    metrics.messagesReceivedTotal.inc({ result: 'forbidden' });
    deps.onDenied?.(client, packet.topic, decision.reason);
    deps.markDisconnectReason(client, 'forbidden');
    callback(new IngestError('TOPIC_FORBIDDEN', `publishing to "${packet.topic}" is not allowed for this client (${decision.reason}); a device publishes to devices/{its id}/telemetry`));
    return undefined;
  }

  /** Releases the PUBACK (or closes the connection with `err`), with the held-publish accounting. */
  function releaseAck(packet: PublishPacket, receivedAt: number, callback: PublishCallback): (err: Error | null) => void {
    const acked = packet.qos > 0;
    heldDelta++;
    queueFlush();
    return (err) => {
      heldDelta--;
      queueFlush();
      if (acked && err === null) metrics.pubackLatencySeconds.observe((now() - receivedAt) / 1000);
      callback(err);
    };
  }

  /** An invalid payload is dead-lettered and acknowledged. Returns the readings, or undefined. */
  function decodeOrDeadLetter(client: Client, packet: PublishPacket, payload: Buffer, deviceId: string, receivedAt: number, release: (err: Error | null) => void, decoded: ReturnType<typeof decodeTelemetry>) {
    if (decoded.ok) return decoded.readings;
    metrics.messagesReceivedTotal.inc({ result: 'invalid' });
    metrics.invalidMessagesTotal.inc({ reason: decoded.reason });
    const ticket = deadLetter.write({
      deviceId,
      topic: packet.topic,
      clientId: client.id,
      reason: decoded.reason,
      errorMessage: decoded.message,
      payload,
      receivedAt,
      qos: packet.qos,
    });
    // Acknowledged either way, so a device does not resend a poison message forever. A QoS 1
    // message waits for a dead-letter write slot (backpressure); QoS 0 never waits.
    const acked = packet.qos > 0;
    if (durable && acked) void ticket.settled.then(() => release(null));
    else if (acked) void ticket.admitted.then(() => release(null));
    else release(null);
    return undefined;
  }

  /** Queues the readings; the PUBACK leaves once they are stored (durable) or queued (received). */
  function enqueue(client: Client, packet: PublishPacket, readings: Parameters<Batcher['submit']>[0], release: (err: Error | null) => void): void {
    const origin = { clientId: client.id, qos: packet.qos };
    // Fast path: room in the queue now, no promise hop per message.
    const admitted = batcher.trySubmit(readings, origin);
    if (admitted !== undefined) return awaitStored(client, packet, admitted, release);
    batcher.submit(readings, origin).then(
      (submission) => awaitStored(client, packet, submission, release),
      (err: IngestError) => {
        metrics.messagesReceivedTotal.inc({ result: 'limited' });
        deps.markDisconnectReason(client, err.code === 'SHUTTING_DOWN' ? 'shutdown' : 'overloaded');
        release(err);
      },
    );
  }

  /** A queued message: PUBACK at once (received mode, QoS 0) or once stored (durable). */
  function awaitStored(client: Client, packet: PublishPacket, submission: Submission, release: (err: Error | null) => void): void {
    const holdUntilStored = durable && packet.qos > 0;
    if (!holdUntilStored) release(null);
    submission.stored.then(
      () => {
        storedMessages++;
        queueFlush();
        if (holdUntilStored) release(null);
      },
      (err: Error) => {
        metrics.messagesReceivedTotal.inc({ result: 'failed' });
        // No PUBACK: closing the connection makes the device resend after reconnecting.
        if (holdUntilStored) {
          deps.markDisconnectReason(client, 'store_failed');
          release(err);
        }
      },
    );
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
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    receivedBytes += payload.byteLength;
    queueFlush();
    const release = releaseAck(packet, receivedAt, callback);
    const decoded = decodeTelemetry(payload, decision.deviceId, receivedAt, limits);
    const admit = (): void => {
      const readings = decodeOrDeadLetter(client, packet, payload, decision.deviceId, receivedAt, release, decoded);
      if (readings !== undefined) enqueue(client, packet, readings, release);
    };
    // The device's rate (token bucket) comes before the dead-letter or the queue.
    if (deps.rateStep === undefined) return admit();
    deps.rateStep(decision.deviceId, decoded.ok ? decoded.readings.length : 0, admit, (err) => {
      metrics.messagesReceivedTotal.inc({ result: 'limited' });
      deps.markDisconnectReason(client, 'overloaded');
      release(err);
    });
  };
}
