// Application credentials: NAME:SECRET pairs from --application / MQTT_APPLICATIONS and an optional
// file (one per line, # comments). A client that CONNECTs with username NAME and password SECRET
// gets the role `application`, in every auth mode. Only digests are kept; comparison is constant-time.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { IngestError } from '../errors.ts';

export interface ApplicationCredentials {
  has(name: string): boolean;
  verify(name: string, secret: Buffer): boolean;
  readonly size: number;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function digest(secret: string | Buffer): Buffer {
  return createHash('sha256').update(secret).digest();
}

/** Builds the credential set; `file` lines are checked like flag values, a bad one names its line. */
export function loadApplications(pairs: readonly string[], file: string | undefined): ApplicationCredentials {
  const entries: [string, string, string][] = pairs.map((p) => [p, 'setting applications', p]);
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new IngestError('CONFIG_INVALID', `--applications-file: cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line !== '' && !line.startsWith('#')) entries.push([line, `${file}:${i + 1}`, line]);
    });
  }
  const secrets = new Map<string, Buffer>();
  for (const [pair, where] of entries) {
    const colon = pair.indexOf(':');
    const name = pair.slice(0, colon);
    const secret = pair.slice(colon + 1);
    if (colon < 1 || !NAME.test(name) || secret.length < 8) throw new IngestError('CONFIG_INVALID', `${where}: application credential must be NAME:SECRET (name of [A-Za-z0-9_.-], secret at least 8 chars)`);
    if (secrets.has(name)) throw new IngestError('CONFIG_INVALID', `${where}: application "${name}" is given twice`);
    secrets.set(name, digest(secret));
  }
  return {
    has: (name) => secrets.has(name),
    verify: (name, secret) => {
      const expected = secrets.get(name);
      return expected !== undefined && timingSafeEqual(digest(secret), expected);
    },
    size: secrets.size,
  };
}
