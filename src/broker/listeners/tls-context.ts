// Reads the TLS files into server options: certificate, key, client CA, whether a client
// certificate is required, TLS 1.2 at least. Read again on SIGHUP (a new secure context for new
// handshakes; live connections keep the one they were made with).
import { readFileSync } from 'node:fs';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import { IngestError } from '../../errors.ts';

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string | undefined;
}

export function readTlsFiles(files: TlsFiles): SecureContextOptions {
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new IngestError('TLS_CONFIG', `cannot read the TLS ${what} file ${file}: ${(err as Error).message}`, { cause: err });
    }
  };
  return {
    cert: read(files.certFile, 'certificate'),
    key: read(files.keyFile, 'key'),
    ...(files.caFile === undefined ? {} : { ca: read(files.caFile, 'CA') }),
    minVersion: 'TLSv1.2',
  };
}

/** Server options: with `requireClientCert` the handshake fails without a certificate from the CA. */
export function tlsServerOptions(files: TlsFiles, requireClientCert: boolean): TlsOptions {
  return { ...readTlsFiles(files), requestCert: requireClientCert, rejectUnauthorized: requireClientCert };
}
