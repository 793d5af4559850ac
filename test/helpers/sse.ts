// A Server-Sent Events reader for tests: collects events from a real HTTP stream, parsed by the
// same SseFrames as `iot-ingest tail` and the console.
import { SseFrames } from '../../src/live/sse-frames.ts';
import type { SseFrame } from '../../src/live/sse-frames.ts';

export type SseEvent = SseFrame;

export interface SseClient {
  readonly events: SseEvent[];
  readings(): Record<string, unknown>[];
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  if (!res.ok || !res.body) throw new Error(`SSE ${url}: ${res.status} ${await res.text()}`);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  const frames = new SseFrames();
  void (async () => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        events.push(...frames.push(decoder.decode(chunk, { stream: true })));
      }
    } catch {
      // aborted
    }
  })();
  return {
    events,
    readings: () => events.filter((e) => e.event === 'reading').map((e) => JSON.parse(e.data) as Record<string, unknown>),
    close: () => controller.abort(),
  };
}
