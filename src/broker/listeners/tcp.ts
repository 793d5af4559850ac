// MQTT over plain TCP (default port 1883).
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { AuthMode } from '../../config/schema.ts';
import { admitSocket, attachToBroker } from './connection-guard.ts';
import type { GuardDeps } from './connection-guard.ts';
import { listen } from './listener.ts';
import type { Listener } from './listener.ts';

export async function startTcpListener(host: string, port: number, auth: AuthMode, deps: GuardDeps): Promise<Listener> {
  const server = createServer((socket) => {
    if (!admitSocket(socket, 'tcp', deps)) return;
    socket.setNoDelay(true);
    attachToBroker(socket, { listener: 'tcp', auth, remoteAddress: socket.remoteAddress ?? 'unknown', tlsSocket: undefined }, deps);
  });
  await listen(server, host, port);
  return { name: 'tcp', auth, port: (server.address() as AddressInfo).port, server };
}
