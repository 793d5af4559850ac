// MQTT username/password per device: from patterns ({id} = device id, {n} = device number) or
// from a CSV file of deviceId,username,password.

export interface DeviceCredentials {
  readonly username?: string;
  readonly password?: string;
}

export type CredentialsLookup = (deviceId: string, n: number) => DeviceCredentials;

export function expandPattern(pattern: string, deviceId: string, n: number): string {
  return pattern.replaceAll('{id}', deviceId).replaceAll('{n}', String(n));
}

export function credentialsFromPatterns(usernamePattern?: string, passwordPattern?: string): CredentialsLookup {
  return (deviceId, n) => ({
    ...(usernamePattern === undefined ? {} : { username: expandPattern(usernamePattern, deviceId, n) }),
    ...(passwordPattern === undefined ? {} : { password: expandPattern(passwordPattern, deviceId, n) }),
  });
}

/** One CSV field list per line; double quotes may wrap a field ("" is a quote inside one). */
function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const char = line[i];
    if (quoted) {
      if (char === '"' && line[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (char === '"') {
        quoted = false;
      } else {
        field += char;
      }
    } else if (char === '"') {
      quoted = true;
    } else if (char === ',') {
      fields.push(field);
      field = '';
    } else {
      field += char;
    }
  }
  fields.push(field);
  return fields;
}

export interface CredentialsFile {
  readonly byDevice: ReadonlyMap<string, DeviceCredentials>;
  readonly errors: readonly string[];
}

/** Parses the CSV text; a first line `deviceId,username,password` is taken as a header. */
export function parseCredentialsCsv(text: string, source = 'credentials file'): CredentialsFile {
  const byDevice = new Map<string, DeviceCredentials>();
  const errors: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const fields = splitCsvLine(line).map((field) => field.trim());
    if (index === 0 && fields[0]?.toLowerCase() === 'deviceid') return;
    const [deviceId, username, password] = fields;
    if (fields.length !== 3 || !deviceId || !username) {
      errors.push(`${source} line ${index + 1}: expected deviceId,username,password`);
      return;
    }
    byDevice.set(deviceId, { username, ...(password === '' ? {} : { password }) });
  });
  return { byDevice, errors };
}
