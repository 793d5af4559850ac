// Telemetry topic parsing: devices/{deviceId}/telemetry, deviceId 1-128 chars of [A-Za-z0-9_.:-].
import { describe, expect, it } from 'vitest';
import { hasTelemetryShape, parseTelemetryTopic, telemetryTopic } from '../../src/broker/topic.ts';

describe('parseTelemetryTopic', () => {
  it.each([
    ['devices/sensor-1/telemetry', 'sensor-1'],
    ['devices/a/telemetry', 'a'],
    ['devices/A.b:c_d-9/telemetry', 'A.b:c_d-9'],
    [`devices/${'x'.repeat(128)}/telemetry`, 'x'.repeat(128)],
  ])('%s -> %s', (topic, deviceId) => {
    expect(parseTelemetryTopic(topic)).toBe(deviceId);
  });

  it.each([
    'devices//telemetry',
    `devices/${'x'.repeat(129)}/telemetry`,
    'devices/a/b/telemetry',
    'devices/a/telemetry/',
    '/devices/a/telemetry',
    'devices/a/Telemetry',
    'Devices/a/telemetry',
    'devices/a/telemetryx',
    'devices/a/events',
    'devices/a',
    'devices/a b/telemetry',
    'devices/ä/telemetry',
    'devices/a+/telemetry',
    'devices/#/telemetry',
    'devices/a/telemetry\n',
    '$SYS/broker/uptime',
    '',
  ])('%j is not a telemetry topic', (topic) => {
    expect(parseTelemetryTopic(topic)).toBeUndefined();
  });

  it('telemetryTopic is its inverse', () => {
    for (const id of ['a', 'sensor-1', 'gw:01.02_x']) expect(parseTelemetryTopic(telemetryTopic(id))).toBe(id);
  });
});

describe('hasTelemetryShape', () => {
  it('is the regular expression it replaced: devices/{one non-empty level}/telemetry, any characters in it', () => {
    const shape = /^devices\/[^/]+\/telemetry$/;
    for (const topic of ['devices/a/telemetry', 'devices/a b$#+/telemetry', 'devices/\n/telemetry', `devices/${'x'.repeat(300)}/telemetry`, 'devices//telemetry', 'devices/a/b/telemetry', 'devices/a/telemetry/', '/devices/a/telemetry', 'devices/telemetry', 'devices/a/telemetryx', 'Devices/a/telemetry', 'devices/a/Telemetry', 'devices/a/commands/x', '']) {
      expect([topic, hasTelemetryShape(topic)]).toEqual([topic, shape.test(topic)]);
    }
    expect(hasTelemetryShape('devices/a/telemetry')).toBe(true);
    expect(hasTelemetryShape('devices//telemetry')).toBe(false);
  });
});
