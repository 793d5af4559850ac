// What every MQTT listener is to the broker: a name, its auth mode, the port it got, and the
// server to stop. TLS-based listeners also reload their certificate files.
import type { Server } from 'node:net';
import type { AuthMode } from '../../config/schema.ts';
import type { ListenerName } from '../limits/limit-metrics.ts';

export interface Listener {
  readonly name: ListenerName;
  readonly auth: AuthMode;
  readonly port: number;
  readonly server: Server;
  /** Re-reads certificate files for new handshakes; live connections keep theirs. */
  reload?(): void;
}

export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
