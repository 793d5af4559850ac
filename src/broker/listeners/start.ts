// Starts the MQTT listeners the configuration enables, each with its auth mode (its own override
// or --auth). If one fails to bind, those already started are closed again.
import type { BrokerConfig } from '../server.ts';
import type { GuardDeps } from './connection-guard.ts';
import type { Listener } from './listener.ts';
import { startTcpListener } from './tcp.ts';
import { startTlsListener } from './tls.ts';
import type { TlsFiles } from './tls-context.ts';
import { startWsListener } from './ws.ts';

export async function startListeners(config: BrokerConfig, deps: GuardDeps): Promise<Listener[]> {
  const started: Listener[] = [];
  const files = (): TlsFiles => ({ certFile: config.tlsCert as string, keyFile: config.tlsKey as string, caFile: config.tlsCa });
  const host = config.mqttHost;
  try {
    if (config.mqttTcp) started.push(await startTcpListener(host, config.mqttPort, config.auth, deps));
    if (config.tlsPort !== undefined) {
      started.push(await startTlsListener(host, config.tlsPort, config.tlsAuth ?? config.auth, files(), config.tlsRequireClientCert, deps));
    }
    if (config.wsPort !== undefined) {
      started.push(await startWsListener({ host, port: config.wsPort, path: config.wsPath, auth: config.wsAuth ?? config.auth }, deps));
    }
    if (config.wssPort !== undefined) {
      const tls = { files: files(), requireClientCert: config.tlsRequireClientCert };
      started.push(await startWsListener({ host, port: config.wssPort, path: config.wsPath, auth: config.wssAuth ?? config.auth, tls }, deps));
    }
    return started;
  } catch (err) {
    await Promise.all(started.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve()))));
    throw err;
  }
}
