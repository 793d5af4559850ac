// mqtt.js client options for one device: transport (tcp, tls, ws, wss), TLS trust, credentials.
// Reconnecting is the device's job (jittered backoff), so mqtt.js' own fixed-period reconnect is off.
import type { IClientOptions } from 'mqtt';
import type { DeviceCredentials } from './credentials.ts';

export interface TransportSettings {
  readonly url: string;
  readonly connectTimeoutMs: number;
  readonly keepaliveSeconds: number;
  /** PEM text of the CA bundle (--ca), for mqtts:// and wss://. */
  readonly ca?: string | undefined;
  /** --insecure: accept any server certificate. */
  readonly insecure: boolean;
}

export function clientOptions(
  transport: TransportSettings,
  deviceId: string,
  credentials: DeviceCredentials,
): IClientOptions {
  const secure = /^(mqtts|wss|ssl|tls):/.test(transport.url);
  return {
    clientId: deviceId,
    protocolVersion: 4,
    clean: true,
    keepalive: transport.keepaliveSeconds,
    connectTimeout: transport.connectTimeoutMs,
    reconnectPeriod: 0,
    queueQoSZero: false,
    resubscribe: false,
    ...(credentials.username === undefined ? {} : { username: credentials.username }),
    ...(credentials.password === undefined ? {} : { password: credentials.password }),
    ...(secure ? { rejectUnauthorized: !transport.insecure } : {}),
    ...(secure && transport.ca !== undefined ? { ca: transport.ca } : {}),
  };
}
