// MQTT over TLS (default port 8883): TLS 1.2 at least, optional client certificates (always
// required for auth mtls), certificate files reloaded on SIGHUP without dropping connections.
import { createServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { AuthMode } from '../../config/schema.ts';
import { admitSocket, attachToBroker, wasRefusedAtAccept } from './connection-guard.ts';
import type { GuardDeps } from './connection-guard.ts';
import { listen } from './listener.ts';
import type { Listener } from './listener.ts';
import { readTlsFiles, tlsServerOptions } from './tls-context.ts';
import type { TlsFiles } from './tls-context.ts';

export async function startTlsListener(host: string, port: number, auth: AuthMode, files: TlsFiles, requireClientCert: boolean, deps: GuardDeps): Promise<Listener> {
  const options = { ...tlsServerOptions(files, requireClientCert || auth === 'mtls'), handshakeTimeout: deps.connectTimeoutMs };
  const server = createServer(options, (socket) => {
    socket.setNoDelay(true);
    attachToBroker(socket, { listener: 'tls', auth, remoteAddress: socket.remoteAddress ?? 'unknown', tlsSocket: socket }, deps);
  });
  // Slots are taken on the raw TCP socket, before the handshake costs anything.
  server.prependListener('connection', (raw) => void admitSocket(raw, 'tls', deps));
  server.on('tlsClientError', (err, socket) => {
    if (wasRefusedAtAccept(socket)) return;
    deps.metrics.tlsHandshakeFailures.inc({ listener: 'tls' });
    deps.log.debug({ err, address: socket.remoteAddress, certificate: socket.authorizationError }, 'TLS handshake failed');
  });
  await listen(server, host, port);
  return {
    name: 'tls',
    auth,
    port: (server.address() as AddressInfo).port,
    server,
    reload: () => server.setSecureContext(readTlsFiles(files)),
  };
}
