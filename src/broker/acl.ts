// Who a connected client is, and what it may publish and subscribe to. The contract shared by the
// authentication hooks (which attach an identity to each client at CONNECT), the publish hook and
// the subscribe hook (which ask `mayPublish` / `maySubscribe`), commands and the live tail.
//
// Roles (DESIGN.md, "Identity, roles and limits"):
// - device: publishes devices/{self}/telemetry and devices/{self}/commands/response; subscribes to
//   devices/{self}/commands/# (or any filter inside it).
// - application: a configured credential, not a device: subscribes to telemetry of any device
//   (devices/+/telemetry, devices/{id}/telemetry, and the $stored/... live topics), publishes
//   commands (devices/{id}/commands/{name}).
import type { Client } from 'aedes';

export const ROLES = ['device', 'application'] as const;
export type Role = (typeof ROLES)[number];

export interface ClientIdentity {
  readonly role: Role;
  /** The device id (role device) or the application's name (role application). */
  readonly id: string;
  /** How the identity was established. */
  readonly via: 'client_id' | 'password' | 'certificate';
}

const DEVICE_ID = '[A-Za-z0-9_.:-]{1,128}';
const COMMAND_NAME = '[A-Za-z0-9_.:-]{1,64}';
const TELEMETRY = new RegExp(`^devices/(${DEVICE_ID})/telemetry$`);
const COMMAND_RESPONSE = new RegExp(`^devices/(${DEVICE_ID})/commands/response$`);
const COMMAND = new RegExp(`^devices/(${DEVICE_ID})/commands/(${COMMAND_NAME})$`);

const identities = new WeakMap<Client, ClientIdentity>();

/** Called by the authentication step once CONNECT is accepted. */
export function setIdentity(client: Client, identity: ClientIdentity): void {
  identities.set(client, identity);
}

/** The identity of a connected client; undefined for the broker's own publishes or before CONNECT. */
export function identityOf(client: Client | null | undefined): ClientIdentity | undefined {
  return client ? identities.get(client) : undefined;
}

export type PublishDecision =
  | { readonly allowed: true; readonly kind: 'telemetry' | 'command_response' | 'command'; readonly deviceId: string }
  | { readonly allowed: false; readonly reason: 'topic_invalid' | 'not_own_topic' | 'role' };

const VALID_DEVICE_ID = new RegExp(`^${DEVICE_ID}$`);
/** A device's own telemetry topic and the decision for it, worked out once per identity. */
const ownTelemetry = new WeakMap<ClientIdentity, { readonly topic: string; readonly decision: PublishDecision } | null>();

function ownTelemetryOf(identity: ClientIdentity): { readonly topic: string; readonly decision: PublishDecision } | null {
  let own = ownTelemetry.get(identity);
  if (own === undefined) {
    own = VALID_DEVICE_ID.test(identity.id) ? { topic: `devices/${identity.id}/telemetry`, decision: Object.freeze({ allowed: true, kind: 'telemetry', deviceId: identity.id } as const) } : null;
    ownTelemetry.set(identity, own);
  }
  return own;
}

/** What `identity` may publish on `topic`. */
export function mayPublish(identity: ClientIdentity, topic: string): PublishDecision {
  if (identity.role === 'device') {
    // The message a device sends nearly always: its own telemetry, without a regular expression.
    const own = ownTelemetryOf(identity);
    if (own !== null && topic === own.topic) return own.decision;
    const telemetry = TELEMETRY.exec(topic);
    if (telemetry) return telemetry[1] === identity.id ? { allowed: true, kind: 'telemetry', deviceId: identity.id } : { allowed: false, reason: 'not_own_topic' };
    const response = COMMAND_RESPONSE.exec(topic);
    if (response) return response[1] === identity.id ? { allowed: true, kind: 'command_response', deviceId: identity.id } : { allowed: false, reason: 'not_own_topic' };
    return { allowed: false, reason: COMMAND.test(topic) ? 'role' : 'topic_invalid' };
  }
  const command = COMMAND.exec(topic);
  if (command && command[2] !== 'response') return { allowed: true, kind: 'command', deviceId: command[1] as string };
  return { allowed: false, reason: TELEMETRY.test(topic) || COMMAND_RESPONSE.test(topic) ? 'role' : 'topic_invalid' };
}

export type SubscribeDecision = { readonly allowed: true } | { readonly allowed: false; readonly reason: 'topic_invalid' | 'not_own_topic' | 'role' };

/** Whether `identity` may subscribe to `filter` (an MQTT topic filter, wildcards allowed). */
export function maySubscribe(identity: ClientIdentity, filter: string): SubscribeDecision {
  const levels = filter.split('/');
  if (identity.role === 'device') {
    // devices/{self}/commands/# or devices/{self}/commands/{name} or devices/{self}/commands/+
    if (levels.length === 4 && levels[0] === 'devices' && levels[2] === 'commands') {
      if (levels[1] !== identity.id) return { allowed: false, reason: 'not_own_topic' };
      const last = levels[3] as string;
      if (last === '#' || last === '+' || new RegExp(`^${COMMAND_NAME}$`).test(last)) return { allowed: true };
    }
    return { allowed: false, reason: levels[0] === 'devices' ? 'not_own_topic' : 'topic_invalid' };
  }
  // application: telemetry of any device (raw or the stored republish), command responses.
  const base = levels[0] === '$stored' ? levels.slice(1) : levels;
  if (base.length === 3 && base[0] === 'devices' && (base[1] === '+' || VALID_DEVICE_ID.test(base[1] as string))) {
    if (base[2] === 'telemetry') return { allowed: true };
  }
  if (levels.length === 4 && levels[0] === 'devices' && levels[2] === 'commands' && levels[3] === 'response') {
    if (levels[1] === '+' || VALID_DEVICE_ID.test(levels[1] as string)) return { allowed: true };
  }
  return { allowed: false, reason: 'role' };
}
