// Reads a Server-Sent Events stream as it arrives in text chunks: the one parser of the live
// streams' readers (`iot-ingest tail`, the console, the tests). No Node or DOM types, so the
// console's bundle takes it as it is.

export interface SseFrame {
  /** The `event:` field; `message` when the frame has none. */
  readonly event: string;
  readonly data: string;
}

export class SseFrames {
  private buffer = '';

  /** Adds a chunk of the stream; returns the frames it completed (frames without data are skipped). */
  push(text: string): SseFrame[] {
    this.buffer += text;
    const frames: SseFrame[] = [];
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data !== undefined) frames.push({ event: /^event: (.+)$/m.exec(block)?.[1] ?? 'message', data });
    }
    return frames;
  }
}
