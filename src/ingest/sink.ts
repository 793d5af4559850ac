// The seam between the pipeline and wherever readings are kept. The batcher hands a batch of
// readings to a ReadingSink and gets back, per reading, stored / rejected (with the store's reason)
// / failed. It knows nothing else about the store: DynamoDB lives behind this in src/storage/dynamodb/,
// and other sinks (a file, a fan-out to two sinks, memory in tests) plug in without changing the
// broker or the batcher.
import type { Reading } from './reading.ts';

export interface RejectedReading {
  readonly reading: Reading;
  /** Why the store refuses this reading on its own; retrying it cannot help. */
  readonly reason: string;
}

export interface WriteResult {
  readonly stored: Reading[];
  readonly rejected: RejectedReading[];
  /** Readings not stored for a reason that is nobody's item (outage, budget ran out): devices resend. */
  readonly failed: Reading[];
  readonly failure?: Error;
  /** True when the store pushed back (throttling) during this write: the batcher lowers its concurrency. */
  readonly pushedBack?: boolean;
}

export interface ReadingSink {
  /** Writes one batch (at most the batcher's batch size, distinct keys). Never rejects: failure is a result. */
  write(readings: readonly Reading[]): Promise<WriteResult>;
  /** Resolves once everything this sink accepted is durable (buffers flushed). */
  forceFlush(): Promise<void>;
  /** Releases the sink's resources (threads, sockets, files); writes after it fail. */
  shutdown(): Promise<void>;
}
