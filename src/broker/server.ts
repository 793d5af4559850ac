// The embedded MQTT broker: aedes behind a TCP listener, with the publish hook plugged in and the
// connection metrics wired to its events.
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { Aedes } from 'aedes';
import type { AedesOptions, AedesPublishPacket, Client } from 'aedes';
import type { Logger } from 'pino';
import type { DisconnectReason, Metrics } from '../metrics/registry.ts';
import type { AuthorizePublish } from './publish-hook.ts';
import { readProxyHeader } from './proxy-protocol.ts';

/** Longest a balancer may take to send the PROXY header after connecting. */
const PROXY_HEADER_TIMEOUT_MS = 10_000;

export type AuthorizeForward = (client: Client, packet: AedesPublishPacket) => AedesPublishPacket | null;

export interface BrokerOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Built with `markDisconnectReason` from this module's return value. */
  readonly authorizePublish: (mark: (client: Client, reason: DisconnectReason) => void) => AuthorizePublish;
  /** CONNECT and SUBSCRIBE rights (identity-hooks.ts); without them every subscription is refused. */
  readonly authenticate?: AedesOptions['authenticate'];
  readonly authorizeSubscribe?: AedesOptions['authorizeSubscribe'];
  /** The listener reads a PROXY protocol header first (behind HAProxy send-proxy-v2). */
  readonly proxyProtocol?: boolean;
  /** Shared emitter and persistence for cluster mode (mqemitter-redis, aedes-persistence-redis). */
  readonly shared?: { readonly mq: unknown; readonly persistence: unknown };
  readonly authorizeForward?: AuthorizeForward;
  /** Told about every disconnection with its reason (presence). */
  readonly onDisconnect?: (client: Client, reason: DisconnectReason) => void;
}

export interface RunningBroker {
  readonly port: number;
  readonly aedes: Aedes;
  /** Stops accepting connections (existing ones keep being served). */
  stopAccepting(): Promise<void>;
  /** Closes every client connection and the broker. */
  close(reason: DisconnectReason): Promise<void>;
}

export async function startBroker(options: BrokerOptions): Promise<RunningBroker> {
  const { metrics, log } = options;
  const reasons = new WeakMap<Client, DisconnectReason>();
  const mark = (client: Client, reason: DisconnectReason): void => {
    if (!reasons.has(client)) reasons.set(client, reason);
  };
  const aedes = await Aedes.createBroker({
    // Device ids are up to 128 characters and devices commonly use them as client ids.
    maxClientsIdLength: 128,
    authorizePublish: options.authorizePublish(mark),
    // Devices get nothing from subscribing, and nothing of one device may leak to another.
    authenticate: options.authenticate,
    authorizeSubscribe: options.authorizeSubscribe ?? ((_client, _sub, callback) => callback(new Error('subscriptions are not offered by this service'))),
    ...(options.shared ? { mq: options.shared.mq, persistence: options.shared.persistence } : {}),
    ...(options.authorizeForward ? { authorizeForward: options.authorizeForward } : {}),
  });
  // aedes reports persistence failures (a Redis outage in cluster mode) as broker errors: log, never crash.
  (aedes as unknown as NodeJS.EventEmitter).on('error', (err: Error) => log.warn({ err }, 'broker error'));
  aedes.on('client', () => {
    metrics.connectsTotal.inc();
    metrics.connectedClients.inc();
  });
  aedes.on('clientDisconnect', (client) => {
    metrics.connectedClients.dec();
    const reason = reasons.get(client) ?? 'client';
    metrics.disconnectsTotal.inc({ reason });
    options.onDisconnect?.(client, reason);
  });
  aedes.on('keepaliveTimeout', (client) => mark(client, 'keepalive'));
  aedes.on('clientError', (client, err) => {
    mark(client, 'error');
    log.debug({ clientId: client.id, err }, 'client error');
  });
  aedes.on('connectionError', (_client, err) => log.debug({ err }, 'connection error before CONNECT'));

  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    if (!options.proxyProtocol) {
      aedes.handle(socket);
      return;
    }
    readProxyHeader(socket, PROXY_HEADER_TIMEOUT_MS).then(
      (req) => {
        log.debug({ address: req.connDetails.ipAddress, port: req.connDetails.port }, 'proxied connection');
        aedes.handle(socket, req as unknown as IncomingMessage);
      },
      (err: Error) => {
        log.debug({ err, peer: socket.remoteAddress }, 'connection refused: PROXY protocol header expected');
        socket.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let accepting = true;
  const stopAccepting = (): Promise<void> => {
    if (!accepting) return Promise.resolve();
    accepting = false;
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    port,
    aedes,
    stopAccepting: async () => {
      // server.close() resolves only once every socket is gone; do not wait for that here.
      void stopAccepting();
    },
    close: async (reason) => {
      for (const client of Object.values((aedes as unknown as { clients: Record<string, Client> }).clients)) mark(client, reason);
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await stopAccepting();
    },
  };
}
