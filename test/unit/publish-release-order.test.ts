// PUBACKs of stored messages leave once per turn of the event loop (publish-hook.ts); a store
// failure of another message of the same connection closes it. Over real aedes and a raw socket:
// when the store answers A (stored) and B (failed) in the same turn, the device still gets A's
// PUBACK before the connection closes (else it would resend A, stored twice). And in the hook
// alone: the callbacks run in the order the store settled them, whether in one batch or two.
import { createServer, connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import type { Client, PublishPacket } from 'aedes';
import mqtt from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { setIdentity } from '../../src/broker/acl.ts';
import { createPublishHook } from '../../src/broker/publish-hook.ts';
import { Batcher } from '../../src/ingest/batcher.ts';
import type { Reading } from '../../src/ingest/reading.ts';
import type { ReadingSink, WriteResult } from '../../src/ingest/sink.ts';
import { createMetrics } from '../../src/metrics/registry.ts';

const LIMITS = { maxPayloadBytes: 65536, maxReadingsPerMessage: 500, maxAttributesPerReading: 50, maxDepth: 8, maxFutureSkewMs: 300_000, maxItemBytes: 400_000 };
const T = Date.now() - 1000;

/** A sink whose answers the test gives, when it likes. */
class ScriptedSink implements ReadingSink {
  readonly calls: { readings: readonly Reading[]; answer: (r: WriteResult) => void }[] = [];
  onCall: (() => void) | undefined;
  write(readings: readonly Reading[]): Promise<WriteResult> {
    return new Promise((answer) => {
      this.calls.push({ readings, answer });
      this.onCall?.();
    });
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

function pipeline(batchSize: number, lingerMs: number) {
  const metrics = createMetrics({ defaultMetrics: false });
  const sink = new ScriptedSink();
  const batcher = new Batcher({ batchSize, lingerMs, writeConcurrency: 4, adaptiveFlush: lingerMs === 0, maxQueuedReadings: 1000, maxQueuedBytes: 1e7, maxHoldMs: 1000 }, sink, metrics, async () => {});
  const hook = createPublishHook({ ackMode: 'durable', limits: LIMITS, batcher, deadLetter: {} as never, metrics, markDisconnectReason: () => {} });
  return { sink, hook };
}

const stored = (call: { readings: readonly Reading[] }, i = 0): WriteResult => ({ stored: [call.readings[i] as Reading], rejected: [], failed: [] });
const failed = (call: { readings: readonly Reading[] }, i = 0): WriteResult => ({ stored: [], rejected: [], failed: [call.readings[i] as Reading], failure: new Error('store timeout') });
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('publish hook: releases in the order the store settled them', () => {
  function hookRig(batchSize: number, lingerMs: number) {
    const { sink, hook } = pipeline(batchSize, lingerMs);
    const client = { id: 'dev-1' } as unknown as Client;
    setIdentity(client, { role: 'device', id: 'dev-1', via: 'client_id' });
    const events: string[] = [];
    const publish = (name: string, ts: number): void => {
      const packet = { cmd: 'publish', topic: 'devices/dev-1/telemetry', qos: 1, messageId: 1, retain: false, dup: false, payload: Buffer.from(`{"ts":${ts},"v":1}`) } as PublishPacket;
      hook(client, packet, (err) => events.push(`${name}:${err ? 'error' : 'puback'}`));
    };
    return { sink, publish, events };
  }

  it('one batch: A stored, B failed', async () => {
    const { sink, publish, events } = hookRig(25, 20);
    publish('A', T);
    publish('B', T + 1);
    await new Promise((r) => setTimeout(r, 60));
    expect(sink.calls).toHaveLength(1);
    const call = sink.calls[0] as (typeof sink.calls)[number];
    call.answer({ stored: [call.readings[0] as Reading], rejected: [], failed: [call.readings[1] as Reading], failure: new Error('throttled') });
    await turn();
    await turn();
    expect(events).toEqual(['A:puback', 'B:error']);
  });

  it('two batches answered in one turn: A stored, B failed', async () => {
    const { sink, publish, events } = hookRig(1, 0);
    publish('A', T);
    publish('B', T + 1);
    await turn();
    expect(sink.calls).toHaveLength(2);
    const [a, b] = sink.calls as [(typeof sink.calls)[number], (typeof sink.calls)[number]];
    await new Promise<void>((done) => {
      setTimeout(() => a.answer(stored(a)), 0);
      setTimeout(() => {
        b.answer(failed(b));
        setTimeout(done, 5);
      }, 0);
    });
    await turn();
    expect(events).toEqual(['A:puback', 'B:error']);
  });
});

describe('publish hook over real aedes: a stored message keeps its PUBACK when a sibling fails', () => {
  it('A stored and B failed in the same turn: the device gets PUBACK 1, then the connection closes', async () => {
    const { sink, hook } = pipeline(1, 0);
    const broker = await Aedes.createBroker();
    broker.authenticate = (client, _u, _p, cb) => {
      setIdentity(client, { role: 'device', id: client.id, via: 'client_id' });
      cb(null, true);
    };
    broker.authorizePublish = hook as never;
    const server = createServer(broker.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const sock = connect((server.address() as AddressInfo).port, '127.0.0.1');
      const parser = mqtt.parser();
      const got: string[] = [];
      parser.on('packet', (p) => got.push(p.cmd === 'puback' ? `puback:${p.messageId}` : p.cmd));
      sock.on('data', (d) => parser.parse(d));
      const closed = new Promise<void>((r) => sock.on('close', () => r()));
      const connacked = new Promise<void>((r) => parser.once('packet', () => r()));
      sock.write(mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'dev-1', keepalive: 60 } as never));
      await connacked;
      const pub = (id: number, ts: number): Buffer => mqtt.generate({ cmd: 'publish', topic: 'devices/dev-1/telemetry', qos: 1, messageId: id, retain: false, dup: false, payload: Buffer.from(`{"ts":${ts},"v":1}`) } as never);
      const both = new Promise<void>((r) => (sink.onCall = () => sink.calls.length === 2 && r()));
      sock.write(Buffer.concat([pub(1, T), pub(2, T + 1)]));
      await both;
      // Two store answers in the same turn of the loop.
      const [a, b] = sink.calls as [(typeof sink.calls)[number], (typeof sink.calls)[number]];
      setTimeout(() => a.answer(stored(a)), 0);
      setTimeout(() => b.answer(failed(b)), 0);
      await closed;
      expect(got).toEqual(['connack', 'puback:1']);
    } finally {
      await new Promise<void>((r) => broker.close(() => r()));
      server.close();
    }
  });
});
