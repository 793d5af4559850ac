// Certificates for the TLS tests, made by openssl in a temporary directory: a CA, a server
// certificate for 127.0.0.1/localhost, client certificates (good, signed by another CA, expired,
// with a SAN URI) and a second server certificate for reload tests. EC P-256 keys: fast to make.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertPair {
  readonly cert: string;
  readonly key: string;
}

export interface TestPki {
  readonly dir: string;
  readonly caFile: string;
  readonly server: CertPair;
  /** Another server certificate from the same CA (CN localhost-2), for reload tests. */
  readonly server2: CertPair;
  /** Makes a client certificate signed by the CA (or by `signer`). */
  client(name: string, options?: { cn?: string; sanUri?: string; expired?: boolean; signer?: 'ca' | 'other' }): CertPair;
  read(file: string): string;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`,
    '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
}

function makeLeaf(dir: string, name: string, subject: string, ext: string, ca: string, days: number): CertPair {
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', String(days), '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'iot-ingest-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  const serverExt = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';
  const server = makeLeaf(dir, 'server', '/CN=localhost', serverExt, 'ca', 2);
  const server2 = makeLeaf(dir, 'server2', '/CN=localhost-2', serverExt, 'ca', 2);
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    server,
    server2,
    client: (name, options = {}) => {
      const san = options.sanUri === undefined ? '' : `subjectAltName=URI:${options.sanUri}\n`;
      return makeLeaf(dir, name, `/CN=${options.cn ?? name}`, `${san}extendedKeyUsage=clientAuth\n`, options.signer === 'other' ? 'other-ca' : 'ca', options.expired ? -1 : 2);
    },
    read: (file) => readFileSync(file, 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
