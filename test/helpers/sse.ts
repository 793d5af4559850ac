// A Server-Sent Events reader for tests: collects events from a real HTTP stream.
export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

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
  let buffer = '';
  void (async () => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data !== undefined) events.push({ event: /^event: (.+)$/m.exec(block)?.[1] ?? 'message', data });
        }
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
