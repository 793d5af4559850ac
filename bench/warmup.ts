// The bench's warm-up rule after its minimum seconds: go on until a count of work done (PUBACKs,
// items stored) reaches a target, or a deadline passes. V8 compiles a function after a number of
// calls, so a scenario running at a tenth of another's rate needs ten times as long to be measured
// with its code compiled. Used by the runner (bench/run.ts) and the embedded store's ceiling.
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 250;

/** Polls `count` until it reaches `target` or `performance.now()` passes `deadline`; returns the last count. */
export async function untilCount(count: () => number | Promise<number>, target: number, deadline: number): Promise<number> {
  let n = await count();
  while (n < target && performance.now() < deadline) {
    await sleep(POLL_MS);
    n = await count();
  }
  return n;
}

/** Polls `pending` until it is 0 or `performance.now()` passes `deadline`; returns the last value. */
export async function untilNone(pending: () => number | Promise<number>, deadline: number): Promise<number> {
  let n = await pending();
  while (n > 0 && performance.now() < deadline) {
    await sleep(POLL_MS);
    n = await pending();
  }
  return n;
}
