import { describe, expect, it } from 'vitest';
import { mayPublish, maySubscribe } from '../../src/broker/acl.ts';
import type { ClientIdentity } from '../../src/broker/acl.ts';

const device: ClientIdentity = { role: 'device', id: 'thermo-3', via: 'password' };
const app: ClientIdentity = { role: 'application', id: 'dashboard', via: 'password' };

describe('mayPublish', () => {
  it('lets a device publish its own telemetry and command responses only', () => {
    expect(mayPublish(device, 'devices/thermo-3/telemetry')).toEqual({ allowed: true, kind: 'telemetry', deviceId: 'thermo-3' });
    expect(mayPublish(device, 'devices/thermo-3/commands/response')).toEqual({ allowed: true, kind: 'command_response', deviceId: 'thermo-3' });
    expect(mayPublish(device, 'devices/thermo-4/telemetry')).toEqual({ allowed: false, reason: 'not_own_topic' });
    expect(mayPublish(device, 'devices/thermo-4/commands/response')).toEqual({ allowed: false, reason: 'not_own_topic' });
    expect(mayPublish(device, 'devices/thermo-3/commands/reboot')).toEqual({ allowed: false, reason: 'role' });
    expect(mayPublish(device, 'devices/+/telemetry')).toEqual({ allowed: false, reason: 'topic_invalid' });
    expect(mayPublish(device, 'other')).toEqual({ allowed: false, reason: 'topic_invalid' });
  });
  it('decides the same on a repeated topic, and gives an identity whose id is not a valid device id no topic of its own', () => {
    for (let i = 0; i < 3; i++) expect(mayPublish(device, 'devices/thermo-3/telemetry')).toEqual({ allowed: true, kind: 'telemetry', deviceId: 'thermo-3' });
    const odd: ClientIdentity = { role: 'device', id: 'a/b', via: 'certificate' };
    expect(mayPublish(odd, 'devices/a/b/telemetry')).toEqual({ allowed: false, reason: 'topic_invalid' });
    expect(mayPublish(odd, 'devices/a/b/telemetry')).toEqual({ allowed: false, reason: 'topic_invalid' });
  });
  it('lets an application publish commands to any device, nothing else', () => {
    expect(mayPublish(app, 'devices/thermo-4/commands/reboot')).toEqual({ allowed: true, kind: 'command', deviceId: 'thermo-4' });
    expect(mayPublish(app, 'devices/thermo-4/commands/response')).toEqual({ allowed: false, reason: 'role' });
    expect(mayPublish(app, 'devices/thermo-4/telemetry')).toEqual({ allowed: false, reason: 'role' });
    expect(mayPublish(app, 'devices/+/commands/reboot')).toEqual({ allowed: false, reason: 'topic_invalid' });
  });
});

describe('maySubscribe', () => {
  it('lets a device subscribe to its own commands only', () => {
    expect(maySubscribe(device, 'devices/thermo-3/commands/#')).toEqual({ allowed: true });
    expect(maySubscribe(device, 'devices/thermo-3/commands/+')).toEqual({ allowed: true });
    expect(maySubscribe(device, 'devices/thermo-3/commands/reboot')).toEqual({ allowed: true });
    expect(maySubscribe(device, 'devices/thermo-4/commands/#')).toEqual({ allowed: false, reason: 'not_own_topic' });
    expect(maySubscribe(device, 'devices/+/commands/#')).toEqual({ allowed: false, reason: 'not_own_topic' });
    expect(maySubscribe(device, 'devices/thermo-3/telemetry')).toEqual({ allowed: false, reason: 'not_own_topic' });
    expect(maySubscribe(device, '#')).toEqual({ allowed: false, reason: 'topic_invalid' });
  });
  it('lets an application subscribe to telemetry and command responses of any device', () => {
    expect(maySubscribe(app, 'devices/+/telemetry')).toEqual({ allowed: true });
    expect(maySubscribe(app, 'devices/thermo-3/telemetry')).toEqual({ allowed: true });
    expect(maySubscribe(app, '$stored/devices/+/telemetry')).toEqual({ allowed: true });
    expect(maySubscribe(app, 'devices/+/commands/response')).toEqual({ allowed: true });
    expect(maySubscribe(app, 'devices/#')).toEqual({ allowed: false, reason: 'role' });
    expect(maySubscribe(app, '#')).toEqual({ allowed: false, reason: 'role' });
    expect(maySubscribe(app, 'devices/thermo-3/commands/#')).toEqual({ allowed: false, reason: 'role' });
  });
});
