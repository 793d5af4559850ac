// Reference point "aedes-raw": plain aedes behind a TCP listener whose authorizePublish only counts
// the message and lets it through. No decoding, no storage: the upper bound of what the broker
// itself can acknowledge on this machine. Forked by bench/run.ts; reports its port over IPC.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { onParent, toParent } from './ipc.ts';

let received = 0;
const broker = await Aedes.createBroker({
  authorizePublish: (_client, _packet, callback) => {
    received++;
    callback(null);
  },
});
const server = createServer((socket) => {
  socket.setNoDelay(true); // as the service's listener does
  broker.handle(socket);
});
server.listen(0, '127.0.0.1', () => {
  toParent({ type: 'ready', port: (server.address() as AddressInfo).port });
});
onParent((message) => {
  if (message.type === 'stats') toParent({ type: 'stats', stats: { received, stored: 0, requests: 0, failed: 0 } });
});
