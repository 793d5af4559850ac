// The bench's warm-up rule after its minimum seconds: go on until a count of work done (PUBACKs,
// items stored) reaches a target, or a deadline passes. V8 compiles a function after a number of
// calls, so a scenario running at a tenth of another's rate needs ten times as long to be measured
// with its code compiled. Used by the runner (bench/run.ts) and the embedded store's ceiling; the
// runner and thread-cpu.ts also wait here for the idle devices' presence writes (untilNone).
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 250;

/** Polls `read` until `done` holds for its value or `performance.now()` passes `deadline`; returns the last value. */
async function until(read: () => number | Promise<number>, done: (n: number) => boolean, deadline: number): Promise<number> {
  let n = await read();
  while (!done(n) && performance.now() < deadline) {
    await sleep(POLL_MS);
    n = await read();
  }
  return n;
}

/** Polls `count` until it reaches `target` or `performance.now()` passes `deadline`; returns the last count. */
export function untilCount(count: () => number | Promise<number>, target: number, deadline: number): Promise<number> {
  return until(count, (n) => n >= target, deadline);
}

/** Polls `pending` until it is 0 or `performance.now()` passes `deadline`; returns the last value. */
export function untilNone(pending: () => number | Promise<number>, deadline: number): Promise<number> {
  return until(pending, (n) => n <= 0, deadline);
}
