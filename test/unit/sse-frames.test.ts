import { describe, expect, it } from 'vitest';
import { SseFrames } from '../../src/live/sse-frames.ts';

describe('SseFrames', () => {
  it('returns frames only once complete, across chunk boundaries, and skips frames without data', () => {
    const frames = new SseFrames();
    expect(frames.push('event: reading\ndata: {"a"')).toEqual([]);
    expect(frames.push(':1}\n\n: comment\n\nevent: stats\ndata: {}\n\ndata: plain\n\nevent: rea')).toEqual([
      { event: 'reading', data: '{"a":1}' },
      { event: 'stats', data: '{}' },
      { event: 'message', data: 'plain' },
    ]);
    expect(frames.push('ding\ndata: 2\n\n')).toEqual([{ event: 'reading', data: '2' }]);
  });
});
