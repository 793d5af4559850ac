// MQTT over plain TCP (default port 1883), optionally behind a balancer speaking PROXY protocol.
import { createServer } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readProxyHeader } from '../proxy-protocol.ts';
import type { AuthMode } from '../../config/schema.ts';
import { admitSocket, attachToBroker } from './connection-guard.ts';
import type { GuardDeps } from './connection-guard.ts';
import { listen } from './listener.ts';
import type { Listener } from './listener.ts';

export async function startTcpListener(host: string, port: number, auth: AuthMode, deps: GuardDeps): Promise<Listener> {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    if (!deps.proxyProtocol) {
      if (!admitSocket(socket, 'tcp', deps)) return;
      attachToBroker(socket, { listener: 'tcp', auth, remoteAddress: socket.remoteAddress ?? 'unknown', tlsSocket: undefined }, deps);
      return;
    }
    // Behind a balancer the limits count the device's address from the PROXY header, read first
    // (within the connect timeout).
    readProxyHeader(socket, deps.connectTimeoutMs).then(
      (req) => {
        const address = req.connDetails.ipAddress ?? socket.remoteAddress ?? 'unknown';
        deps.log.debug({ address, port: req.connDetails.port }, 'proxied connection');
        if (!admitSocket(socket, 'tcp', deps, address)) return;
        attachToBroker(socket, { listener: 'tcp', auth, remoteAddress: address, tlsSocket: undefined }, deps, req as unknown as IncomingMessage);
      },
      (err: Error) => {
        deps.log.debug({ err, peer: socket.remoteAddress }, 'connection refused: PROXY protocol header expected');
        socket.destroy();
      },
    );
  });
  await listen(server, host, port);
  return { name: 'tcp', auth, port: (server.address() as AddressInfo).port, server };
}
