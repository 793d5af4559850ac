// Device secrets: generated with crypto.randomBytes and shown once; stored only as a salted scrypt
// hash in a PHC-style string that carries its own parameters ($scrypt$ln=12,r=8,p=1$salt$hash), so
// raising the cost later leaves existing hashes verifiable. Hashing runs on the libuv thread pool
// (async scrypt), never on the broker's event loop; comparison is constant-time.
//
// Why ln=12 (N=4096, r=8, 4 MiB, ~13 ms on one core): a generated secret carries 256 random bits,
// so no hash cost makes guessing it feasible or infeasible; the hash only has to be one-way and
// salted, and a cheap one keeps a cold reconnect storm of thousands of devices to seconds.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { ScryptOptions } from 'node:crypto';

/** 32 random bytes, base64url (43 characters): what a device presents as its MQTT password. */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

export interface HashCost {
  /** log2 of scrypt's N. */
  readonly logN: number;
  readonly r: number;
  readonly p: number;
}

export const DEFAULT_HASH_COST: HashCost = { logN: 12, r: 8, p: 1 };
const KEY_BYTES = 32;
const SALT_BYTES = 16;
const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

function scryptAsync(secret: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function costOptions(cost: HashCost): ScryptOptions {
  const N = 2 ** cost.logN;
  // scrypt needs 128 * N * r bytes; leave room above Node's 32 MiB default for higher costs.
  return { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r + 1024 * 1024 };
}

/** A salted scrypt hash of `secret`, with its parameters, as one string. */
export async function hashSecret(secret: string, cost: HashCost = DEFAULT_HASH_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(secret, salt, KEY_BYTES, costOptions(cost));
  return `$scrypt$ln=${cost.logN},r=${cost.r},p=${cost.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Whether `secret` matches `stored` (a hashSecret string). False, never a throw, for a malformed hash. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const m = PHC.exec(stored);
  if (!m) return false;
  const cost: HashCost = { logN: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (cost.logN < 1 || cost.logN > 20 || cost.r < 1 || cost.p < 1) return false;
  const expected = Buffer.from(m[5] as string, 'base64url');
  const key = await scryptAsync(secret, Buffer.from(m[4] as string, 'base64url'), expected.length, costOptions(cost));
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A digest of a presented secret, so caches can key on it without holding the secret itself. */
export function secretDigest(secret: string | Buffer): string {
  return createHash('sha256').update(secret).digest('base64url');
}
