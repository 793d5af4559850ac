// Checks on a PUBLISH that protect the broker before the pipeline sees it: a QoS 1/2 PUBLISH with
// packet id 0 (MQTT-2.3.1-1: it could never be acknowledged properly) and topics longer or deeper
// than the limits. Each refusal closes the connection (MQTT 3.1.1 has no negative PUBACK) and is
// counted. Wraps the publish hook, so the pipeline's hook stays about telemetry.
import type { Client, PublishPacket } from 'aedes';
import { IngestError } from '../errors.ts';
import type { LimitMetrics } from './limits/limit-metrics.ts';
import type { AuthorizePublish } from './publish-hook.ts';

export interface TopicLimits {
  readonly maxTopicBytes: number;
  readonly maxTopicLevels: number;
}

export function guardPublish(next: AuthorizePublish, limits: TopicLimits, metrics: LimitMetrics, onRefused: (client: Client) => void): AuthorizePublish {
  return (client: Client | null, packet: PublishPacket, callback) => {
    if (client === null) return next(client, packet, callback);
    if (packet.qos > 0 && packet.messageId === 0) {
      metrics.protocolViolations.inc({ violation: 'packet_id_zero' });
      onRefused(client);
      return callback(new IngestError('PROTOCOL_VIOLATION', 'QoS > 0 PUBLISH with packet id 0 (MQTT-2.3.1-1)'));
    }
    const topic = packet.topic;
    // UTF-8 takes at most 3 bytes per UTF-16 unit: most topics are measured without encoding them.
    if (topic.length > limits.maxTopicBytes || (topic.length * 3 > limits.maxTopicBytes && Buffer.byteLength(topic) > limits.maxTopicBytes)) {
      metrics.limitHits.inc({ limit: 'topic_bytes' });
      onRefused(client);
      return callback(new IngestError('LIMIT_EXCEEDED', `topic longer than ${limits.maxTopicBytes} bytes`));
    }
    let levels = 1;
    for (let i = topic.indexOf('/'); i !== -1; i = topic.indexOf('/', i + 1)) levels += 1;
    if (levels > limits.maxTopicLevels) {
      metrics.limitHits.inc({ limit: 'topic_levels' });
      onRefused(client);
      return callback(new IngestError('LIMIT_EXCEEDED', `topic deeper than ${limits.maxTopicLevels} levels`));
    }
    next(client, packet, callback);
  };
}
