// A ReadingSink that appends readings as JSON lines to a file: the second implementation of the
// seam (src/ingest/sink.ts), for tests, local capture and replays. A write resolves once its lines
// are appended and fsync'ed, so a PUBACK still means "durable". No DynamoDB anywhere.
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Reading } from '../ingest/reading.ts';
import type { ReadingSink, WriteResult } from '../ingest/sink.ts';

export class FileSink implements ReadingSink {
  private file: Promise<FileHandle> | undefined;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly path: string) {}

  write(readings: readonly Reading[]): Promise<WriteResult> {
    const lines = readings.map((r) => JSON.stringify({ deviceId: r.deviceId, ts: r.ts, receivedAt: r.receivedAt, ...r.attributes }) + '\n').join('');
    // Appends in order, one batch after the other.
    const done = this.tail.then(async () => {
      const file = await (this.file ??= open(this.path, 'a'));
      await file.appendFile(lines);
      await file.datasync();
    });
    this.tail = done.catch(() => undefined);
    return done.then(
      () => ({ stored: [...readings], rejected: [], failed: [] }),
      (err: unknown) => ({ stored: [], rejected: [], failed: [...readings], failure: err as Error }),
    );
  }

  async forceFlush(): Promise<void> {
    await this.tail;
  }

  async shutdown(): Promise<void> {
    await this.tail;
    await (await this.file)?.close();
    this.file = undefined;
  }
}
