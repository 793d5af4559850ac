// Telemetry topics: devices/{deviceId}/telemetry, deviceId 1-128 chars of [A-Za-z0-9_.:-].

const TELEMETRY_TOPIC = /^devices\/([A-Za-z0-9_.:-]{1,128})\/telemetry$/;

/** The device id of a telemetry topic, or undefined when the topic is not one. */
export function parseTelemetryTopic(topic: string): string | undefined {
  return TELEMETRY_TOPIC.exec(topic)?.[1];
}

/**
 * Whether a topic has the shape devices/{one non-empty level}/telemetry, whatever that level holds
 * (what the broker passes around, before any device-id rule). No regular expression: the broker
 * asks this for every stored reading.
 */
export function hasTelemetryShape(topic: string): boolean {
  return topic.length > 18 && topic.startsWith('devices/') && topic.endsWith('/telemetry') && topic.indexOf('/', 8) === topic.length - 10;
}

export function telemetryTopic(deviceId: string): string {
  return `devices/${deviceId}/telemetry`;
}
