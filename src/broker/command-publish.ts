// The command topics of the publish path: a device's answer on devices/{self}/commands/response,
// and an application's command on devices/{id}/commands/{name} (stored in the commands table like
// one sent over HTTP). The PUBACK leaves once the table has it; a store failure closes the
// connection unacknowledged so the client resends, as for telemetry.
import type { Client, PublishPacket } from 'aedes';
import { mayPublish } from './acl.ts';
import { effectiveIdentity } from './identity.ts';
import type { PublishCallback } from './publish-hook.ts';

export interface CommandPublishHandler {
  answer(deviceId: string, payload: Buffer): Promise<unknown>;
  createFromMqtt(deviceId: string, name: string, payload: Buffer): Promise<unknown>;
}

const COMMAND_TOPIC = /^devices\/[^/]+\/commands\/([^/]+)$/;

/** Handles the publish when it is on a command topic the client may use; false leaves it to the telemetry path. */
export function handleCommandPublish(
  handler: CommandPublishHandler,
  client: Client,
  packet: PublishPacket,
  callback: PublishCallback,
  onStoreFailed: (client: Client) => void,
): boolean {
  const name = COMMAND_TOPIC.exec(packet.topic)?.[1];
  const identity = name === undefined ? undefined : effectiveIdentity(client);
  if (name === undefined || identity === undefined) return false;
  const decision = mayPublish(identity, packet.topic);
  if (!decision.allowed || decision.kind === 'telemetry') return false;
  packet.retain = false;
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  const done =
    decision.kind === 'command_response' ? handler.answer(decision.deviceId, payload) : handler.createFromMqtt(decision.deviceId, name, payload);
  done.then(
    () => callback(null),
    (err: Error) => {
      onStoreFailed(client);
      callback(err);
    },
  );
  return true;
}
