// A well-behaved device for hostile-input tests: publishes one QoS 1 reading at a steady pace on its
// own identity, remembers every reading that was acknowledged and every disconnect it suffered, so
// a test can check that nothing acknowledged is missing from the table while others misbehave.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';

export interface SteadyDevice {
  readonly deviceId: string;
  /** Timestamps of the readings the broker acknowledged. */
  readonly acked: number[];
  /** How many times the connection closed (0 for a device that was served throughout). */
  closes(): number;
  stop(): Promise<void>;
  /** The acknowledged timestamps that are not in `table`. */
  missing(doc: DynamoDBDocumentClient, table: string): Promise<number[]>;
}

export async function startSteadyDevice(url: string, deviceId: string, intervalMs = 25): Promise<SteadyDevice> {
  const client: MqttClient = await connectAsync(url, { clientId: deviceId, reconnectPeriod: 0, keepalive: 30, clean: true });
  const acked: number[] = [];
  let closes = 0;
  client.on('close', () => (closes += 1));
  let running = true;
  let ts = Date.now() - 60_000;
  const loop = (async (): Promise<void> => {
    while (running && client.connected) {
      ts += 1;
      const mine = ts;
      try {
        await client.publishAsync(`devices/${deviceId}/telemetry`, JSON.stringify({ ts: mine, seq: acked.length }), { qos: 1 });
        acked.push(mine);
      } catch {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    deviceId,
    acked,
    closes: () => closes,
    stop: async () => {
      running = false;
      await loop;
      const before = closes;
      await client.endAsync();
      closes = before; // our own close is not a disconnect
    },
    missing: async (doc, table) => {
      const missing: number[] = [];
      for (const t of acked) {
        const got = await doc.send(new GetCommand({ TableName: table, Key: { deviceId, ts: t }, ConsistentRead: true }));
        if (got.Item === undefined) missing.push(t);
      }
      return missing;
    },
  };
}
