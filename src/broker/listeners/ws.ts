// MQTT over WebSocket (default port 8083) and over secure WebSocket, both on one path (default
// /mqtt), with the `ws` package: each WebSocket becomes a duplex stream that aedes handles like a
// socket. A WebSocket message larger than the packet limit is refused by `ws` from its frame
// header (maxPayload), before it is buffered.
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { AuthMode } from '../../config/schema.ts';
import { admitSocket, attachToBroker, wasRefusedAtAccept } from './connection-guard.ts';
import type { GuardDeps } from './connection-guard.ts';
import { listen } from './listener.ts';
import type { Listener } from './listener.ts';
import { readTlsFiles, tlsServerOptions } from './tls-context.ts';
import type { TlsFiles } from './tls-context.ts';

export interface WsListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly auth: AuthMode;
  /** TLS files for wss; undefined for ws. */
  readonly tls?: { readonly files: TlsFiles; readonly requireClientCert: boolean };
}

export async function startWsListener(options: WsListenerOptions, deps: GuardDeps): Promise<Listener> {
  const name = options.tls ? 'wss' : 'ws';
  const { tls } = options;
  const server = tls
    ? createHttpsServer({ ...tlsServerOptions(tls.files, tls.requireClientCert || options.auth === 'mtls'), handshakeTimeout: deps.connectTimeoutMs })
    : createHttpServer();
  // A socket that never sends its upgrade request is closed like one that never sends CONNECT.
  server.headersTimeout = deps.connectTimeoutMs;
  server.requestTimeout = deps.connectTimeoutMs;
  server.prependListener('connection', (raw) => void admitSocket(raw, name, deps));
  // No HTTP endpoint here but the upgrade: a plain request gets 426.
  server.on('request', (_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end(`MQTT over WebSocket only, at ${options.path}\n`));
  if (tls) {
    server.on('tlsClientError', (_err, socket) => {
      if (wasRefusedAtAccept(socket)) return;
      deps.metrics.tlsHandshakeFailures.inc({ listener: 'wss' });
    });
  }
  const wss = new WebSocketServer({
    server,
    path: options.path,
    maxPayload: deps.maxPacketBytes + 8,
    perMessageDeflate: false,
    // MQTT over WebSocket names its subprotocol "mqtt" (3.1.1) or "mqttv3.1"; accept what is offered.
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
  });
  wss.on('connection', (ws, req) => {
    ws.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') deps.metrics.limitHits.inc({ limit: 'packet_bytes' });
    });
    const stream = createWebSocketStream(ws);
    stream.on('error', () => {}); // reported through aedes' client error
    const tlsSocket = tls ? (req.socket as TLSSocket) : undefined;
    attachToBroker(stream, { listener: name, auth: options.auth, remoteAddress: req.socket.remoteAddress ?? 'unknown', tlsSocket }, deps, req);
  });
  await listen(server, options.host, options.port);
  return {
    name,
    auth: options.auth,
    port: (server.address() as AddressInfo).port,
    server,
    ...(tls ? { reload: () => (server as ReturnType<typeof createHttpsServer>).setSecureContext(readTlsFiles(tls.files)) } : {}),
  };
}
