// aedes' authorizePublish hook: the door of the pipeline. It checks the topic, decodes the payload,
// queues the readings and decides when the PUBACK may leave. aedes writes the PUBACK only after this
// callback, so holding it is how durable acks and backpressure work: while a callback is held,
// aedes does not read further from that socket.
import type { Client, PublishPacket } from 'aedes';
import { IngestError } from '../errors.ts';
import type { AckMode } from '../config/schema.ts';
import type { Batcher } from '../ingest/batcher.ts';
import type { DeadLetterWriter } from '../ingest/dead-letter.ts';
import { decodeTelemetry } from '../ingest/decode.ts';
import type { DecodeLimits } from '../ingest/decode.ts';
import type { Metrics } from '../metrics/registry.ts';
import { handleCommandPublish } from './command-publish.ts';
import type { CommandPublishHandler } from './command-publish.ts';
import { parseTelemetryTopic } from './topic.ts';
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

  return function authorizePublish(client, packet, callback) {
    // Packets the broker publishes itself ($SYS heartbeats, wills) are not telemetry.
    if (client === null) return callback(null);
    if (deps.commands && handleCommandPublish(deps.commands, client, packet, callback, (c) => deps.markDisconnectReason(c, 'store_failed'))) return;
    const deviceId = parseTelemetryTopic(packet.topic);
    if (deviceId === undefined) {
      metrics.messagesReceivedTotal.inc({ result: 'forbidden' });
      deps.markDisconnectReason(client, 'forbidden');
      return callback(new IngestError('TOPIC_FORBIDDEN', `publishing to "${packet.topic}" is not allowed; use devices/{deviceId}/telemetry`));
    }
    packet.retain = false; // readings go to DynamoDB, never to the broker's retained store
    const receivedAt = now();
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    metrics.receivedBytesTotal.inc(payload.byteLength);
    const acked = packet.qos > 0;
    metrics.heldPublishes.inc();
    const release = (err: Error | null): void => {
      metrics.heldPublishes.dec();
      if (acked && err === null) metrics.pubackLatencySeconds.observe((now() - receivedAt) / 1000);
      callback(err);
    };

    const decoded = decodeTelemetry(payload, deviceId, receivedAt, limits);
    // The steps after decoding: the device's rate, then dead-letter or the queue.
    const admit = (): void => {
      if (!decoded.ok) {
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
        if (durable && acked) void ticket.settled.then(() => release(null));
        else if (acked) void ticket.admitted.then(() => release(null));
        else release(null);
        return;
      }

      batcher.submit(decoded.readings, { clientId: client.id, qos: packet.qos }).then(
        (submission) => {
          const holdUntilStored = durable && acked;
          if (!holdUntilStored) release(null);
          submission.stored.then(
            () => {
              metrics.messagesReceivedTotal.inc({ result: 'stored' });
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
        },
        (err: IngestError) => {
          metrics.messagesReceivedTotal.inc({ result: 'limited' });
          deps.markDisconnectReason(client, err.code === 'SHUTTING_DOWN' ? 'shutdown' : 'overloaded');
          release(err);
        },
      );
    };
    if (deps.rateStep === undefined) return admit();
    deps.rateStep(deviceId, decoded.ok ? decoded.readings.length : 0, admit, (err) => {
      metrics.messagesReceivedTotal.inc({ result: 'limited' });
      deps.markDisconnectReason(client, 'overloaded');
      release(err);
    });
  };
}
