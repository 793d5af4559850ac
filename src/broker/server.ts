// The embedded MQTT broker: one aedes instance behind every enabled listener (TCP, TLS, WebSocket,
// WSS), all sharing one set of limits, one connection gate and one publish path. Wires the hooks
// (preConnect checks, authentication strategies, the publish guard around the pipeline's hook)
// and the connection metrics.
import type { Socket } from 'node:net';
// First: before aedes loads mqtt-packet (see quiet-debug.ts).
import { quietDebug } from './quiet-debug.ts';
import { bufferListReads } from './buffer-list-reads.ts';
import { Aedes } from 'aedes';
import type { AedesOptions, AedesPublishPacket, Client } from 'aedes';
import type { Logger } from 'pino';
import type { AuthMode, ServeConfig } from '../config/schema.ts';
import type { DisconnectReason, Metrics } from '../metrics/registry.ts';
import { clientIdAuthenticator, createAuthenticateHook } from './auth/authenticator.ts';
import type { Authenticator } from './auth/authenticator.ts';
import { createMtlsAuthenticator } from './auth/mtls.ts';
import type { DeviceAllowed } from './auth/mtls.ts';
import { createPreConnect } from './connect-checks.ts';
import { ConnectionGate } from './limits/connection-gate.ts';
import { DeviceRateLimiter } from './limits/device-rate.ts';
import { createLimitMetrics } from './limits/limit-metrics.ts';
import type { LimitMetrics, ListenerName } from './limits/limit-metrics.ts';
import { createRateStep } from './limits/rate-step.ts';
import type { RateStep } from './limits/rate-step.ts';
import { startListeners } from './listeners/start.ts';
import type { Listener } from './listeners/listener.ts';
import { guardPublish } from './publish-guard.ts';
import { registerTlsReload } from './tls-reload.ts';
import type { AuthorizePublish } from './publish-hook.ts';
import { ReadGate, registerReadGateMetrics } from './limits/read-gate.ts';
import { gateTelemetryFanOut } from './telemetry-fan-out.ts';
import { storeGrantedSubscriptionsOnly } from './granted-subscriptions.ts';

export type BrokerConfig = Pick<
  ServeConfig,
  | 'mqttHost' | 'mqttPort' | 'mqttTcp' | 'auth' | 'tlsPort' | 'tlsCert' | 'tlsKey' | 'tlsCa' | 'tlsRequireClientCert' | 'tlsAuth'
  | 'wsPort' | 'wsAuth' | 'wssPort' | 'wssAuth' | 'wsPath' | 'mtlsIdentity' | 'mtlsSanUriPrefix' | 'maxPayloadBytes' | 'maxPacketBytes'
  | 'maxBufferedBytes' | 'maxConnections' | 'maxConnectionsPerIp' | 'maxConnectsPerIpPerSecond' | 'connectTimeoutMs' | 'maxKeepaliveSeconds'
  | 'allowKeepaliveZero' | 'maxClientIdLength' | 'maxTopicBytes' | 'maxTopicLevels' | 'drainTimeoutMs' | 'maxMessagesPerSecond'
  | 'maxReadingsPerSecond' | 'maxRateHoldMs' | 'maxHeldMessages'
>;

/** The default packet limit: the payload limit plus the largest header (a 64 KiB topic), so a payload a little over its limit is still read and dead-lettered as payload_too_large. */
export function maxPacketBytesOf(config: Pick<ServeConfig, 'maxPacketBytes' | 'maxPayloadBytes'>): number {
  return config.maxPacketBytes ?? config.maxPayloadBytes + 64 * 1024;
}

export type AuthorizeForward = (client: Client, packet: AedesPublishPacket) => AedesPublishPacket | null;

export interface BrokerOptions {
  readonly config: BrokerConfig;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Built with `markDisconnectReason` and the rate step from this module. */
  readonly authorizePublish: (mark: (client: Client, reason: DisconnectReason) => void, rateStep: RateStep, held: ReadGate) => AuthorizePublish;
  /** Strategies for auth modes beyond `none` and `mtls` (password, from the device registry). */
  readonly authenticators?: Readonly<Partial<Record<AuthMode, Authenticator>>>;
  /** Registry check for mtls devices (exists, not revoked); every certificate's device is allowed without it. */
  readonly deviceAllowed?: DeviceAllowed;
  /** The whole CONNECT check (src/broker/auth.ts: lock-out, applications, the listener's mode, takeover); without it, the strategies below. */
  readonly authenticate?: AedesOptions['authenticate'];
  /** SUBSCRIBE rights (subscribe-hook.ts); without them every subscription is refused. */
  readonly authorizeSubscribe?: AedesOptions['authorizeSubscribe'];
  /** The TCP listener reads a PROXY protocol header first (behind HAProxy send-proxy-v2). */
  readonly proxyProtocol?: boolean;
  /** Shared emitter and persistence for cluster mode (mqemitter-redis, aedes-persistence-redis). */
  readonly shared?: { readonly mq: unknown; readonly persistence: unknown };
  readonly authorizeForward?: AuthorizeForward;
  /** Told about every disconnection with its reason (presence). */
  readonly onDisconnect?: (client: Client, reason: DisconnectReason) => void;
}

export interface RunningBroker {
  /** Port of the TCP listener (0 when it is disabled). */
  readonly port: number;
  readonly ports: Readonly<Partial<Record<ListenerName, number>>>;
  readonly aedes: Aedes;
  readonly limitMetrics: LimitMetrics;
  /** Marks why a client is about to be disconnected (the first reason wins). */
  markDisconnectReason(client: Client, reason: DisconnectReason): void;
  /** Re-reads the TLS certificate files for new handshakes; live connections stay. Throws if a file is bad (the old one stays). */
  reloadTls(): void;
  /** Stops accepting connections (existing ones keep being served). */
  stopAccepting(): Promise<void>;
  /** Closes every client connection and the broker. */
  close(reason: DisconnectReason): Promise<void>;
}

export async function startBroker(options: BrokerOptions): Promise<RunningBroker> {
  const { metrics, log, config } = options;
  if (quietDebug === 'too-late') log.info('mqtt-packet was loaded before the broker module: its disabled debug calls keep their cost (see src/broker/quiet-debug.ts)');
  else log.debug({ quietDebug }, 'mqtt-packet debug loggers');
  log.debug({ bufferListReads }, 'mqtt-packet header reads in place');
  const open = new Map<ListenerName, number>();
  const sockets = new Set<Socket>();
  const limitMetrics = createLimitMetrics(metrics.registry, () => open);
  const reasons = new WeakMap<Client, DisconnectReason>();
  const mark = (client: Client, reason: DisconnectReason): void => {
    if (!reasons.has(client)) reasons.set(client, reason);
  };
  const gate = new ConnectionGate(config);
  const limiter = new DeviceRateLimiter(config);
  const sweep = setInterval(() => limiter.sweep(), 10_000).unref();
  const rateStep = createRateStep(limiter, limitMetrics);
  const readGate = new ReadGate(config.maxHeldMessages);
  registerReadGateMetrics(metrics.registry, readGate);
  const authenticators: Partial<Record<AuthMode, Authenticator>> = {
    none: clientIdAuthenticator,
    mtls: createMtlsAuthenticator({ identity: config.mtlsIdentity, sanUriPrefix: config.mtlsSanUriPrefix, deviceAllowed: options.deviceAllowed }),
    ...options.authenticators,
  };
  const aedes = await Aedes.createBroker({
    // aedes applies this to MQTT 3.1 only; the preConnect checks apply --max-client-id-length to all.
    maxClientsIdLength: config.maxClientIdLength,
    // aedes' own level check would close without counting; the publish guard applies --max-topic-levels.
    maxTopicLevels: 100,
    connectTimeout: config.connectTimeoutMs,
    drainTimeout: config.drainTimeoutMs,
    preConnect: createPreConnect(config, gate, limitMetrics),
    authenticate: options.authenticate ?? (createAuthenticateHook(authenticators, (reason, connection) =>
      log.debug({ reason, listener: connection?.listener, address: connection?.remoteAddress }, 'authentication refused')) as AedesOptions['authenticate']),
    authorizePublish: guardPublish(options.authorizePublish(mark, rateStep, readGate), config, limitMetrics, (client) => mark(client, 'forbidden')),
    // Without the identity hooks, nothing of one device may leak to another: no subscriptions.
    authorizeSubscribe: options.authorizeSubscribe ?? ((_client, _sub, callback) => callback(new Error('subscriptions are not offered by this service'))),
    ...(options.shared ? { mq: options.shared.mq, persistence: options.shared.persistence } : {}),
    ...(options.authorizeForward ? { authorizeForward: options.authorizeForward } : {}),
  });
  // Telemetry goes to the broker's emitter only while some MQTT subscription could receive it
  // (not in cluster mode, where subscribers on other replicas are not seen here).
  gateTelemetryFanOut(aedes, metrics.registry, { enabled: options.shared === undefined });
  // A persistent session stores only the filters it was granted (installed after the gate, whose
  // record of persistent telemetry subscriptions must see the filtered list).
  storeGrantedSubscriptionsOnly(aedes);
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
  // aedes reports a drain timeout once per pending write of the client: count the client once.
  const drainTimedOut = new WeakSet<Client>();
  aedes.on('clientError', (client, err) => {
    mark(client, 'error');
    if (err.message === 'drain timeout' && !drainTimedOut.has(client)) {
      drainTimedOut.add(client);
      limitMetrics.limitHits.inc({ limit: 'drain_timeout' });
    }
    log.debug({ clientId: client.id, err }, 'client error');
  });
  aedes.on('connectionError', (_client, err) => {
    if (err.message === 'connect did not arrive in time') limitMetrics.limitHits.inc({ limit: 'connect_timeout' });
    log.debug({ err }, 'connection error before CONNECT');
  });

  let listeners: Listener[];
  try {
    listeners = await startListeners(config, {
      aedes,
      gate,
      metrics: limitMetrics,
      log,
      maxPacketBytes: maxPacketBytesOf(config),
      maxBufferedBytes: config.maxBufferedBytes,
      connectTimeoutMs: config.connectTimeoutMs,
      proxyProtocol: options.proxyProtocol ?? false,
      open,
      sockets,
      readGate,
    });
  } catch (err) {
    clearInterval(sweep);
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    throw err;
  }
  const ports = Object.fromEntries(listeners.map((l) => [l.name, l.port])) as Partial<Record<ListenerName, number>>;
  log.info({ listeners: listeners.map((l) => ({ listener: l.name, port: l.port, auth: l.auth })) }, 'MQTT listeners up');

  const reloadTls = (): void => {
    try {
      for (const l of listeners) l.reload?.();
      limitMetrics.tlsReloads.inc({ result: 'ok' });
    } catch (err) {
      limitMetrics.tlsReloads.inc({ result: 'error' });
      throw err;
    }
  };
  // SIGHUP (main.ts) reaches this broker through the registry; the outcome is logged here.
  const unregisterReload = listeners.some((l) => l.reload !== undefined)
    ? registerTlsReload(() => {
        try {
          reloadTls();
          log.info('TLS certificate files reloaded');
        } catch (err) {
          log.error({ err }, 'TLS reload failed: the previous certificates stay in use');
        }
      })
    : () => {};

  let accepting = true;
  const stopAccepting = (): Promise<void> => {
    if (!accepting) return Promise.resolve();
    accepting = false;
    return Promise.all(listeners.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve())))).then(() => undefined);
  };
  return {
    port: ports.tcp ?? 0,
    ports,
    aedes,
    limitMetrics,
    markDisconnectReason: mark,
    reloadTls,
    stopAccepting: async () => {
      // server.close() resolves only once every socket is gone; do not wait for that here.
      void stopAccepting();
    },
    close: async (reason) => {
      clearInterval(sweep);
      unregisterReload();
      for (const client of Object.values((aedes as unknown as { clients: Record<string, Client> }).clients)) mark(client, reason);
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await stopAccepting();
    },
  };
}
