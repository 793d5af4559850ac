import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ThrottledAuthLog } from '../../src/broker/auth-log.ts';

function capture(): { lines: Record<string, unknown>[]; log: ThrottledAuthLog; advance: (ms: number) => void } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  let now = 1_000_000;
  const log = new ThrottledAuthLog(pino({ level: 'info' }, stream), 60_000, () => now);
  return { lines, log, advance: (ms) => (now += ms) };
}

describe('refusal log', () => {
  it('logs a refused publish once per client per interval at info, then the count it held back', async () => {
    const { lines, log, advance } = capture();
    for (let i = 0; i < 5; i++) log.info('thermo-1', { reason: 'not_own_topic' }, 'publish refused');
    log.info('thermo-2', { reason: 'not_own_topic' }, 'publish refused');
    advance(60_000);
    log.info('thermo-1', { reason: 'not_own_topic' }, 'publish refused');
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.level, l.msg, l.suppressedSinceLast])).toEqual([
      [30, 'publish refused', 0],
      [30, 'publish refused', 0],
      [30, 'publish refused', 4],
    ]);
  });
  it('logs authentication failures at warn', async () => {
    const { lines, log } = capture();
    log.warn('thermo-1', { reason: 'bad_secret' }, 'authentication refused');
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => l.level)).toEqual([40]);
  });
});
