// A small seeded pseudo-random generator (mulberry32) and the helpers the profiles need.
// Every random stream the simulator uses is derived from (seed, device index, stream name), so a
// device's payloads depend only on those and on its sequence number, never on timing.

/** Returns a float in [0, 1). */
export type Random = () => number;

/** mulberry32: 32-bit state, period 2^32, good enough statistics for synthetic telemetry. */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over the parts' text, then a murmur3 finaliser: a 32-bit seed for one stream. */
export function deriveSeed(...parts: ReadonlyArray<string | number>): number {
  let hash = 0x811c9dc5;
  const text = parts.join('\u0000');
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** The random stream `name` of device `deviceIndex` under `seed`. */
export function deviceRandom(seed: number, deviceIndex: number, name: string): Random {
  return mulberry32(deriveSeed(seed, deviceIndex, name));
}

export function uniform(random: Random, min: number, max: number): number {
  return min + (max - min) * random();
}

/** Integer in [min, max], both inclusive. */
export function integer(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** Standard normal deviate (Box-Muller); consumes two draws. */
export function gaussian(random: Random): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function pick<T>(random: Random, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick() from an empty list');
  return item;
}

export function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** Rounds to `digits` decimals: sensors report a fixed resolution, and payloads stay short. */
export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
