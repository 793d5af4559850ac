// Telemetry topics: devices/{deviceId}/telemetry, deviceId 1-128 chars of [A-Za-z0-9_.:-].

const TELEMETRY_TOPIC = /^devices\/([A-Za-z0-9_.:-]{1,128})\/telemetry$/;

/** The device id of a telemetry topic, or undefined when the topic is not one. */
export function parseTelemetryTopic(topic: string): string | undefined {
  return TELEMETRY_TOPIC.exec(topic)?.[1];
}

export function telemetryTopic(deviceId: string): string {
  return `devices/${deviceId}/telemetry`;
}
