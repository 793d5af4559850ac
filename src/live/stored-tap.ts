// The "stored readings" seam: a ReadingSink decorator around the real sink that reports, after
// each write, the readings that reached the store. Reports leave in the order the batches were
// handed to the sink (a batch that finishes early waits for the ones before it; its PUBACKs do
// not), and within a batch in queue order, so each device's readings are reported in the order it
// sent them. Acks are never delayed: the batcher gets each result as soon as it exists.
import type { Reading } from '../ingest/reading.ts';
import type { ReadingSink, WriteResult } from '../ingest/sink.ts';

export type StoredListener = (readings: readonly Reading[]) => void;

export function tapStored(sink: ReadingSink, onStored: StoredListener): ReadingSink {
  let nextSeq = 0;
  let nextToReport = 0;
  const done = new Map<number, readonly Reading[]>();
  const report = (): void => {
    for (let r = done.get(nextToReport); r !== undefined; r = done.get(nextToReport)) {
      done.delete(nextToReport++);
      if (r.length > 0) onStored(r);
    }
  };
  return {
    async write(readings) {
      const seq = nextSeq++;
      let result: WriteResult | undefined;
      try {
        result = await sink.write(readings);
        return result;
      } finally {
        let stored: readonly Reading[] = [];
        if (result && result.stored.length === readings.length) {
          stored = readings; // every reading stored: the batch's own order, no set needed
        } else if (result && result.stored.length > 0) {
          // Retries and narrowing may reorder; report in the order the batch was given.
          const ok = new Set(result.stored);
          stored = readings.filter((r) => ok.has(r));
        }
        done.set(seq, stored);
        try {
          report();
        } catch {
          // A listener's failure must not turn a stored batch into a failed one.
        }
      }
    },
    forceFlush: () => sink.forceFlush(),
    shutdown: () => sink.shutdown(),
  };
}
