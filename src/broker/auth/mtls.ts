// The `mtls` auth mode: the TLS handshake has already verified the client certificate against the
// configured CA (expired, foreign-CA and missing certificates never get this far); this strategy
// reads the device id from it (subject CN, or a SAN URI with a configured prefix), requires the
// client id to be that device id (or `{deviceId}:` followed by anything), and asks the registry,
// when one is plugged in, whether the device exists and is not revoked.
import type { PeerCertificate } from 'node:tls';
import type { MtlsIdentity } from '../../config/schema.ts';
import type { Authenticator, AuthOutcome } from './authenticator.ts';

/** Whether a device may connect (exists, not revoked). The device registry provides it. */
export type DeviceAllowed = (deviceId: string) => Promise<boolean>;

export interface MtlsOptions {
  readonly identity: MtlsIdentity;
  readonly sanUriPrefix: string;
  readonly deviceAllowed?: DeviceAllowed;
}

const DEVICE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** The device id a certificate names, or undefined. */
export function deviceIdOf(cert: PeerCertificate, options: Pick<MtlsOptions, 'identity' | 'sanUriPrefix'>): string | undefined {
  let id: string | undefined;
  if (options.identity === 'cn') {
    const cn = cert.subject?.CN as string | string[] | undefined;
    id = Array.isArray(cn) ? undefined : cn; // several CNs: ambiguous, refused
  } else {
    // subjectaltname: "DNS:a, URI:urn:iot-ingest:device:thermo-1, ..."
    for (const part of (cert.subjectaltname ?? '').split(', ')) {
      if (part.startsWith('URI:') && part.slice(4).startsWith(options.sanUriPrefix)) {
        id = part.slice(4 + options.sanUriPrefix.length);
        break;
      }
    }
  }
  return id !== undefined && DEVICE_ID.test(id) ? id : undefined;
}

export function createMtlsAuthenticator(options: MtlsOptions): Authenticator {
  const allowed: DeviceAllowed = options.deviceAllowed ?? (async () => true);
  return {
    authenticate: async ({ client, connection }): Promise<AuthOutcome> => {
      const socket = connection.tlsSocket;
      if (socket === undefined || !socket.authorized) return { ok: false, returnCode: 5, reason: 'no_verified_certificate' };
      const deviceId = deviceIdOf(socket.getPeerCertificate(), options);
      if (deviceId === undefined) return { ok: false, returnCode: 5, reason: `certificate_without_${options.identity === 'cn' ? 'cn' : 'san_uri'}` };
      if (client.id !== deviceId && !client.id.startsWith(`${deviceId}:`)) return { ok: false, returnCode: 2, reason: 'client_id_mismatch' };
      if (!(await allowed(deviceId))) return { ok: false, returnCode: 5, reason: 'device_not_allowed' };
      return { ok: true, identity: { role: 'device', id: deviceId, via: 'certificate' } };
    },
  };
}
