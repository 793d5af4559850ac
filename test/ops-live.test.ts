// The operators' view against a live service. Part A drives traffic that moves every metric
// (valid QoS 1/0 readings, invalid payloads, a forbidden topic, DynamoDB throttling, 500s,
// UnprocessedItems, a refused batch, a failing dead-letter write, an outage with backpressure,
// an overloaded and a store-failed device, keepalive and protocol-error disconnects), scrapes
// /metrics and checks every PromQL expression of the dashboards and alert rules against the real
// output: each metric it reads exists, each label it uses exists on that metric, and each counter
// and histogram it reads moved. Part B runs a real Prometheus (Debian's package) against the same
// service on loopback, with the repo's alert rules, and queries it for the dashboard's headline
// series.
import { readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_REASONS, INVALID_REASONS } from '../src/ingest/reading.ts';
import { mulberry32 } from '../simulator/prng.ts';
import { waitFor } from './helpers/dynamo-servers.ts';
import type { FaultProxy } from './helpers/fault-proxy.ts';
import { startFaultedService } from './helpers/faulted-service.ts';
import type { FaultedService } from './helpers/faulted-service.ts';
import { filterExposition, hasPrometheus, labelUsages, parseExposition, promtoolCheckMetrics, startPrometheus } from './helpers/prometheus.ts';
import type { Exposition, PrometheusServer, VectorSample } from './helpers/prometheus.ts';
import { REPO_ROOT, collectExpressions, extractMetricNames } from './helpers/promql.ts';
import type { CollectedExpression } from './helpers/promql.ts';
import { scrape } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

/** Series Prometheus itself creates: never in a /metrics scrape. */
const PROMETHEUS_SERIES: ReadonlySet<string> = new Set(['up', 'ALERTS', 'ALERTS_FOR_STATE', 'scrape_duration_seconds', 'scrape_samples_scraped']);
/** Labels Prometheus attaches to every scraped series (target labels). */
const TARGET_LABELS: ReadonlySet<string> = new Set(['job', 'instance']);

// Service settings that make the failure paths reachable within seconds.
const MAX_QUEUED_READINGS = 100;
const READINGS_PER_HELD_MESSAGE = 50; // two held messages fill the queue
const MAX_HOLD_MS = 1_500; // a third waits this long, then is refused ("limited")
// The first two fail after this during the outage ("failed"); well after MAX_HOLD_MS, so that the
// third is refused before their failure frees the queue, even on a loaded machine.
const WRITE_TIMEOUT_MS = 5_000;

/** Invalid payloads the scenario sends, by the reason they are refused with. */
const SENT_INVALID: Readonly<Record<string, string>> = {
  malformed_json: '{"ts": 17, "temperature": ',
  future_ts: JSON.stringify({ ts: Date.now() + 3_600_000, temperature: 1 }),
  invalid_attribute_name: JSON.stringify({ ts: Date.now(), 'temp erature': 1 }),
};

/**
 * Pre-initialised series that legitimately stay at 0 in this scenario; every other series of a
 * counter or histogram the dashboard or the alerts read must have moved.
 * - disconnects{reason="shutdown"}: only counted while the service stops, after which there is no
 *   scrape to read it from (test/process.test.ts covers SIGTERM).
 * - invalid_messages / dead_lettered for the invalid reasons not sent here: each reason is driven
 *   one by one in test/bad-input.test.ts; three of them are sent here.
 */
const NOT_MOVING: readonly { readonly name: string; readonly labels: Readonly<Record<string, string>> }[] = [
  { name: 'iot_ingest_client_disconnects_total', labels: { reason: 'shutdown' } },
  ...INVALID_REASONS.filter((r) => !(r in SENT_INVALID)).map((reason) => ({ name: 'iot_ingest_invalid_messages_total', labels: { reason } })),
  ...DEAD_LETTER_REASONS.filter((r) => !(r in SENT_INVALID) && r !== 'rejected_by_store').map((reason) => ({ name: 'iot_ingest_dead_lettered_total', labels: { reason } })),
];


/** An MQTT 3.1.1 CONNECT packet (clean session, no credentials), for raw-socket misbehaviour. */
function connectPacket(clientId: string, keepaliveSeconds: number): Buffer {
  const id = Buffer.from(clientId);
  const variableHeader = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, keepaliveSeconds >> 8, keepaliveSeconds & 0xff]);
  const payload = Buffer.concat([Buffer.from([id.length >> 8, id.length & 0xff]), id]);
  const remaining = variableHeader.length + payload.length;
  if (remaining > 127) throw new Error('client id too long for a one-byte remaining length');
  return Buffer.concat([Buffer.from([0x10, remaining]), variableHeader, payload]);
}

/** Opens a raw TCP connection, sends CONNECT and resolves after the CONNACK, with a promise of the close. */
async function rawMqttClient(port: number, clientId: string, keepaliveSeconds: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = tcpConnect(port, '127.0.0.1');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('data', (d: Buffer) => (d[0] === 0x20 && d[3] === 0 ? resolve() : reject(new Error(`no CONNACK: ${d.toString('hex')}`))));
    socket.once('close', () => reject(new Error('closed before CONNACK')));
    socket.write(connectPacket(clientId, keepaliveSeconds));
  });
  return { socket, closed };
}

function closedPromise(c: MqttClient): Promise<void> {
  return new Promise((resolve) => c.once('close', () => resolve()));
}

/**
 * The service's counters and histograms that any expression reads, as the series "moved" compares:
 * a counter's own series, a histogram's `_count` (whether the expression reads `_bucket`, `_sum`
 * or `_count`).
 */
function countersAndHistogramsRead(exposition: Exposition): Set<string> {
  const read = new Set<string>();
  for (const { expr } of expressions) {
    for (const name of extractMetricNames(expr)) {
      const f = exposition.familyOf(name);
      if (!f?.name.startsWith('iot_ingest_')) continue;
      if (f.type === 'counter') read.add(f.name);
      if (f.type === 'histogram') read.add(`${f.name}_count`);
    }
  }
  return read;
}

function labelKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort(([a], [b]) => a.localeCompare(b)));
}

const expressions: CollectedExpression[] = collectExpressions();

describe('operators view against a live service', () => {
  let env: FaultedService | undefined;
  let proxy: FaultProxy;
  let svc: TestService;
  let prometheus: PrometheusServer | undefined;
  let prometheusError: unknown;
  let baseline: Exposition;

  beforeAll(async () => {
    env = await startFaultedService(
      {
        maxQueuedReadings: MAX_QUEUED_READINGS,
        maxReadingsPerMessage: READINGS_PER_HELD_MESSAGE,
        maxHoldMs: MAX_HOLD_MS,
        writeTimeoutMs: WRITE_TIMEOUT_MS,
        requestTimeoutMs: 1_000,
        lingerMs: 10,
      },
      { random: mulberry32(4) },
    );
    ({ proxy, svc } = env);
    // The first scrape right after start: what every counter and histogram must move away from.
    baseline = parseExposition(await scrape(svc.httpUrl));
    // Prometheus scrapes from now on, so Part B has the whole traffic in its range windows.
    if (!hasPrometheus()) {
      prometheusError = new Error('prometheus is not installed (Debian: apt-get install -y prometheus; .ci/run installs it)');
    } else {
      prometheus = await startPrometheus({
        jobs: [{ jobName: 'iot-ingest', targets: [`127.0.0.1:${svc.service.httpPort}`], intervalSeconds: 1 }],
        ruleFiles: [join(REPO_ROOT, 'prometheus', 'alerts.yml')],
        evaluationIntervalSeconds: 1,
      }).catch((err: unknown) => {
        prometheusError = err;
        return undefined;
      });
    }
  });

  afterAll(async () => {
    await prometheus?.stop();
    await env?.stop();
  });

  describe('part A: /metrics after traffic that moves every metric', () => {
    let final: Exposition;
    let finalText: string;
    let duringOutage: Exposition;

    beforeAll(async () => {
      const url = svc.mqttUrl;
      const base = Date.now() - 60_000;
      const open: MqttClient[] = [];
      const device = async (id: string): Promise<MqttClient> => {
        const c = await connectAsync(url, { clientId: id, reconnectPeriod: 0, connectTimeout: 5_000 });
        open.push(c);
        return c;
      };
      let seq = 0;
      const publishValid = async (c: MqttClient, deviceId: string, qos1: number, qos0: number): Promise<void> => {
        const topic = `devices/${deviceId}/telemetry`;
        const sends: Promise<unknown>[] = [];
        for (let i = 0; i < qos1; i++) {
          const n = seq++;
          // Plain, ThingsBoard-style and ISO-8601 timestamps.
          const payload =
            n % 3 === 0 ? { ts: base + n, temperature: 20 + (n % 7), humidity: 40 } : n % 3 === 1 ? { ts: base + n, values: { temperature: 21 } } : { ts: new Date(base + n).toISOString(), pressure: 1013 };
          sends.push(c.publishAsync(topic, JSON.stringify(payload), { qos: 1 }));
        }
        for (let i = 0; i < qos0; i++) sends.push(c.publishAsync(topic, JSON.stringify({ ts: base + seq++, v: i }), { qos: 0 }));
        await Promise.all(sends);
      };

      // 1. Valid readings, QoS 1 and QoS 0, from several devices; one message carries a batch with
      //    two readings under one key (merged: duplicate_readings).
      const valid = await Promise.all([0, 1, 2, 3].map((d) => device(`ops-valid-${d}`)));
      await Promise.all(valid.map((c, d) => publishValid(c, `ops-valid-${d}`, 15, 10)));
      await (valid[0] as MqttClient).publishAsync('devices/ops-valid-0/telemetry', JSON.stringify([{ ts: base - 1, v: 1 }, { ts: base - 1, v: 2 }, { ts: base - 2, v: 3 }]), { qos: 1 });

      // 2. Invalid payloads: acknowledged, dead-lettered, counted by reason.
      const bad = await device('ops-bad');
      for (const payload of Object.values(SENT_INVALID)) await bad.publishAsync('devices/ops-bad/telemetry', payload, { qos: 1 });

      // 3. A publish to a topic outside devices/{id}/telemetry: the connection is closed.
      const forbidden = await device('ops-forbidden');
      const forbiddenClosed = closedPromise(forbidden);
      forbidden.publish('devices/ops-forbidden/commands', JSON.stringify({ ts: Date.now(), v: 1 }), { qos: 1 }, () => undefined);
      await forbiddenClosed;

      // 4. A burst with DynamoDB faults: throttling, 500s, UnprocessedItems. Rounds until each kind
      //    was injected at least once (the proxy's PRNG is seeded; this is a safety net).
      proxy.setFaults({ unprocessedShare: 0.4, throttleShare: 0.25, serverErrorShare: 0.25 });
      const faulty = await Promise.all([0, 1, 2, 3].map((d) => device(`ops-faulty-${d}`)));
      for (let round = 0; round < 10; round++) {
        // A batch that exhausts its retry budget is legitimately unacknowledged and its device
        // disconnected (store_failed): such a device stops taking part.
        await Promise.all(
          faulty.map((c, d) => (c.connected ? Promise.race([publishValid(c, `ops-faulty-${d}`, 10, 0).catch(() => undefined), closedPromise(c)]) : undefined)),
        );
        const f = proxy.stats.faults;
        if (f.throttle > 0 && f.serverError > 0 && proxy.stats.itemsUnprocessed > 0) break;
      }
      proxy.setFaults({});

      // 5. A batch DynamoDB refuses with a ValidationException: narrowed down to the one bad
      //    reading, which is dead-lettered as rejected_by_store.
      proxy.setFaults({ rejectBodyContaining: 'poison-marker' });
      const narrow = await device('ops-narrow');
      await narrow.publishAsync(
        'devices/ops-narrow/telemetry',
        JSON.stringify(Array.from({ length: 8 }, (_, i) => ({ ts: base + i, note: i === 5 ? 'poison-marker' : `fine-${i}` }))),
        { qos: 1 },
      );

      // 6. A dead-letter record DynamoDB refuses (PutItem, not retriable): logged, counted.
      proxy.setFaults({ operations: ['PutItem'], rejectBodyContaining: 'ops-dlqfail' });
      const dlqFail = await device('ops-dlqfail');
      await dlqFail.publishAsync('devices/ops-dlqfail/telemetry', SENT_INVALID.malformed_json as string, { qos: 1 });
      proxy.setFaults({});

      // 7. An outage: two devices fill the queue and are held until their write budget runs out
      //    (failed, store_failed); a third waits for queue space (backpressure) and is refused after
      //    maxHoldMs (limited, overloaded). Meanwhile one raw client goes silent (keepalive) and one
      //    sends a packet type MQTT 3.1.1 does not have (error).
      proxy.setFaults({ outage: true });
      const held = await Promise.all([0, 1, 2].map((d) => device(`ops-held-${d}`)));
      const heldClosed = held.map(closedPromise);
      const heldMessage = (d: number): string => JSON.stringify(Array.from({ length: READINGS_PER_HELD_MESSAGE }, (_, i) => ({ ts: base + 1_000 * d + i, v: i })));
      for (const d of [0, 1]) (held[d] as MqttClient).publishAsync(`devices/ops-held-${d}/telemetry`, heldMessage(d), { qos: 1 }).catch(() => undefined);
      duringOutage = await waitFor(
        async () => {
          const e = parseExposition(await scrape(svc.httpUrl));
          return e.sum('iot_ingest_queue_readings') >= MAX_QUEUED_READINGS && e.sum('iot_ingest_inflight_batches') > 0 ? e : undefined;
        },
        { timeoutMs: 5_000, message: 'the queue filled during the outage' },
      );
      (held[2] as MqttClient).publishAsync('devices/ops-held-2/telemetry', heldMessage(2), { qos: 1 }).catch(() => undefined);
      const silent = await rawMqttClient(svc.service.mqttPort, 'ops-silent', 1);
      const broken = await rawMqttClient(svc.service.mqttPort, 'ops-broken', 60);
      broken.socket.write(Buffer.from([0xf0, 0x00]));
      await Promise.all([...heldClosed, silent.closed, broken.closed]);
      silent.socket.destroy();
      broken.socket.destroy();
      proxy.setFaults({});

      // 8. Recovery: valid traffic is stored again; then every device disconnects.
      const after = await device('ops-after');
      await publishValid(after, 'ops-after', 5, 0);
      await Promise.all(open.map((c) => c.endAsync(true).catch(() => undefined)));

      finalText = await waitFor(
        async () => {
          const text = await scrape(svc.httpUrl);
          const e = parseExposition(text);
          // Readiness comes back with the store probe's next success after the outage.
          const settled = e.sum('iot_ingest_queue_readings') === 0 && e.sum('iot_ingest_held_publishes') === 0 && e.sum('iot_ingest_connected_clients') === 0 && e.sum('iot_ingest_store_up') === 1;
          return settled ? text : undefined;
        },
        { timeoutMs: 10_000, message: 'queue drained, every client gone, the store answering again' },
      );
      final = parseExposition(finalText);
    }, 45_000);

    it('the scrape parses, and the service\'s own metrics pass promtool check metrics', () => {
      expect(final.families.size).toBeGreaterThan(30);
      const own = filterExposition(finalText, (name) => name.startsWith('iot_ingest_'));
      expect(own).toContain('# TYPE iot_ingest_readings_stored_total counter');
      const lint = promtoolCheckMetrics(own);
      expect(lint.output).toBe('');
      expect(lint.status).toBe(0);
    });

    it('every metric that a dashboard panel, variable or alert reads exists in the scrape', () => {
      expect(expressions.length).toBeGreaterThan(40);
      const names = final.seriesNames();
      const missing: string[] = [];
      for (const { source, expr } of expressions) {
        for (const name of extractMetricNames(expr)) {
          if (!PROMETHEUS_SERIES.has(name) && !names.has(name)) missing.push(`${name} (${source})`);
        }
      }
      expect(missing).toEqual([]);
    });

    it('every label an expression matches on or groups by exists on the series it reads', () => {
      const problems: string[] = [];
      let checked = 0;
      for (const { source, expr } of expressions) {
        for (const usage of labelUsages(expr)) {
          const metrics = usage.metrics.filter((m) => !PROMETHEUS_SERIES.has(m));
          for (const label of usage.labels) {
            if (TARGET_LABELS.has(label) || metrics.length === 0) continue;
            checked++;
            const on = metrics.filter((m) => final.labelNames(m).has(label));
            // Matchers and groupings need the label on every metric they apply to; a vector
            // matching list on at least one side.
            const ok = usage.kind === 'matching' ? on.length > 0 : on.length === metrics.length;
            if (!ok) problems.push(`${source}: label "${label}" (${usage.kind}) not on ${metrics.filter((m) => !on.includes(m)).join(', ')}`);
          }
        }
      }
      expect(problems).toEqual([]);
      expect(checked).toBeGreaterThan(10); // result, reason, operation, outcome, code, le, ...
    });

    it('every label value an expression selects with = exists', () => {
      const problems: string[] = [];
      for (const { source, expr } of expressions) {
        for (const m of expr.matchAll(/([a-z_:][a-z0-9_:]*)\{([^}]*)\}/gi)) {
          const name = m[1] as string;
          if (PROMETHEUS_SERIES.has(name)) continue;
          for (const eq of (m[2] as string).matchAll(/([a-zA-Z_]\w*)\s*=\s*"([^"]*)"/g)) {
            const [, label, value] = eq as unknown as [string, string, string];
            if (TARGET_LABELS.has(label)) continue;
            if (final.select(name, { [label]: value }).length === 0) problems.push(`${source}: no ${name}{${label}="${value}"}`);
          }
        }
      }
      expect(problems).toEqual([]);
    });

    it('every counter and histogram the dashboard and alerts read moved since the first scrape', () => {
      const read = countersAndHistogramsRead(final);
      // Those the issue names, at least.
      for (const name of [
        'iot_ingest_client_connects_total',
        'iot_ingest_client_disconnects_total',
        'iot_ingest_messages_received_total',
        'iot_ingest_readings_stored_total',
        'iot_ingest_received_bytes_total',
        'iot_ingest_batch_size_readings_count',
        'iot_ingest_dynamodb_request_duration_seconds_count',
        'iot_ingest_dynamodb_throttles_total',
        'iot_ingest_dynamodb_errors_total',
        'iot_ingest_unprocessed_items_total',
        'iot_ingest_write_retries_total',
        'iot_ingest_puback_latency_seconds_count',
        'iot_ingest_receive_to_store_seconds_count',
        'iot_ingest_device_to_store_seconds_count',
        'iot_ingest_dead_lettered_total',
        'iot_ingest_consumed_write_capacity_units_total',
      ]) {
        expect(read, `${name} is read by the dashboard or the alerts`).toContain(name);
      }
      const still = [...read].filter((name) => !(final.sum(name) > baseline.sum(name))).map((name) => `${name}: ${baseline.sum(name)} -> ${final.sum(name)}`);
      expect(still).toEqual([]);
    });

    it('every labelled series of those counters and histograms moved, except the listed ones', () => {
      const read = countersAndHistogramsRead(final);
      const exempt = new Set(NOT_MOVING.map((n) => `${n.name} ${labelKey(n.labels)}`));
      const still: string[] = [];
      const exemptButMoved: string[] = [];
      for (const name of read) {
        for (const s of final.select(name)) {
          if (Object.keys(s.labels).length === 0) continue; // covered by the test above
          const before = baseline.sum(name, s.labels);
          const key = `${name} ${labelKey(s.labels)}`;
          if (exempt.has(key)) {
            if (s.value > before) exemptButMoved.push(key);
          } else if (!(s.value > before)) {
            still.push(`${key}: ${before} -> ${s.value}`);
          }
        }
      }
      expect(still).toEqual([]);
      expect(exemptButMoved).toEqual([]); // keep the list honest
      // The scenario's own figures.
      expect(final.sum('iot_ingest_messages_received_total', { result: 'forbidden' })).toBe(1);
      expect(final.sum('iot_ingest_messages_received_total', { result: 'limited' })).toBe(1);
      expect(final.sum('iot_ingest_messages_received_total', { result: 'failed' })).toBeGreaterThanOrEqual(2);
      expect(final.sum('iot_ingest_dead_lettered_total', { reason: 'rejected_by_store' })).toBe(1);
      expect(final.sum('iot_ingest_dead_letter_write_failures_total')).toBe(1);
      expect(final.sum('iot_ingest_client_disconnects_total', { reason: 'keepalive' })).toBe(1);
      expect(final.sum('iot_ingest_client_disconnects_total', { reason: 'error' })).toBe(1);
      expect(final.sum('iot_ingest_duplicate_readings_total')).toBeGreaterThanOrEqual(1);
      expect(final.sum('iot_ingest_backpressure_waits_total')).toBeGreaterThanOrEqual(1);
      expect(final.sum('iot_ingest_dynamodb_errors_total', { code: 'ValidationException' })).toBeGreaterThanOrEqual(1);
      // The outage: connections reset, counted under NetworkError (or TimeoutError, as the SDK names a reset).
      expect(final.sum('iot_ingest_dynamodb_errors_total', { code: 'NetworkError' }) + final.sum('iot_ingest_dynamodb_errors_total', { code: 'TimeoutError' })).toBeGreaterThan(0);
    });

    it('the backlog gauges showed the outage while it lasted, and are back to 0', () => {
      expect(duringOutage.sum('iot_ingest_queue_readings')).toBe(MAX_QUEUED_READINGS);
      expect(duringOutage.sum('iot_ingest_queue_bytes')).toBeGreaterThan(0);
      expect(duringOutage.sum('iot_ingest_queue_oldest_age_seconds')).toBeGreaterThan(0);
      expect(duringOutage.sum('iot_ingest_inflight_batches')).toBeGreaterThan(0);
      expect(duringOutage.sum('iot_ingest_held_publishes')).toBe(2);
      expect(duringOutage.sum('iot_ingest_connected_clients')).toBeGreaterThanOrEqual(3);
      for (const gauge of ['iot_ingest_queue_readings', 'iot_ingest_queue_bytes', 'iot_ingest_queue_oldest_age_seconds', 'iot_ingest_inflight_batches', 'iot_ingest_held_publishes', 'iot_ingest_connected_clients']) {
        expect(final.sum(gauge), gauge).toBe(0);
      }
      expect(final.sum('iot_ingest_queue_capacity_readings')).toBe(MAX_QUEUED_READINGS);
      expect(final.sum('iot_ingest_ready')).toBe(1);
    });
  });

  describe('docs/metrics.md describes what is exported', () => {
    it('every iot_ingest_ metric has its section, and every label value it exports is named', async () => {
      const doc = readFileSync(join(REPO_ROOT, 'docs', 'metrics.md'), 'utf8');
      const headings = doc.split('\n').filter((l) => l.startsWith('#### '));
      const exposition = parseExposition(await scrape(svc.httpUrl));
      const missing: string[] = [];
      for (const family of exposition.families.values()) {
        if (!family.name.startsWith('iot_ingest_')) continue;
        if (!headings.some((h) => h.includes(`\`${family.name}\``))) missing.push(`section for ${family.name}`);
        for (const s of family.samples) {
          for (const [label, value] of Object.entries(s.labels)) {
            // Bucket bounds, the table name and the version are not fixed sets.
            if (['le', 'table', 'version'].includes(label)) continue;
            if (!doc.includes(`\`${value}\``)) missing.push(`${family.name}{${label}="${value}"}`);
          }
        }
      }
      expect([...new Set(missing)]).toEqual([]);
    });
  });

  describe('part B: a real Prometheus scraping the service', () => {
    const prom = (): PrometheusServer => {
      if (prometheus === undefined) throw new Error('Prometheus did not start', { cause: prometheusError });
      return prometheus;
    };
    const dashboardExpr = (title: string, refId = 'A'): string => {
      const found = expressions.find((e) => e.source.startsWith('grafana/') && e.source.includes(`"${title}"`) && e.source.endsWith(` ${refId}`));
      if (!found) throw new Error(`no dashboard panel "${title}" ${refId}`);
      return found.expr;
    };
    const vector = async (expr: string): Promise<VectorSample[]> => {
      const data = await prom().query(expr);
      if (data.resultType !== 'vector') throw new Error(`${expr}: ${data.resultType}, not a vector`);
      return data.result;
    };
    const single = async (expr: string): Promise<number | undefined> => {
      const r = await vector(expr);
      return r.length === 1 ? Number((r[0] as VectorSample).value[1]) : undefined;
    };

    it('scrapes the service as job iot-ingest and loads the repo\'s alert rules without errors', async () => {
      await waitFor(async () => (await single('up{job="iot-ingest"}')) === 1, { timeoutMs: 15_000, message: 'up{job="iot-ingest"} == 1' });
      interface Rule {
        name: string;
        health: string;
        lastError?: string;
        type: string;
      }
      interface Group {
        name: string;
        file: string;
        rules: Rule[];
      }
      // Every rule evaluated at least once (health leaves "unknown") and none failed.
      const groups = await waitFor(
        async () => {
          const data = await prom().api<{ groups: Group[] }>('rules');
          return data.groups.length > 0 && data.groups.every((g) => g.rules.every((r) => r.health !== 'unknown')) ? data.groups : undefined;
        },
        { timeoutMs: 10_000, message: 'every rule evaluated' },
      );
      expect(groups.map((g) => g.name).sort()).toEqual(
        ['iot-ingest-availability', 'iot-ingest-backlog', 'iot-ingest-dead-letter', 'iot-ingest-latency', 'iot-ingest-storage'],
      );
      for (const g of groups) expect(g.file).toBe(join(REPO_ROOT, 'prometheus', 'alerts.yml'));
      const alerts = groups.flatMap((g) => g.rules);
      expect(alerts.length).toBe(expressions.filter((e) => e.source.startsWith('prometheus/')).length);
      expect(alerts.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual([]);
    });

    it('answers the dashboard headline series: readings stored/s, connected devices, PUBACK p99, queue depth', async () => {
      // Steady traffic from three connected devices while Prometheus scrapes every second.
      const devices = await Promise.all([0, 1, 2].map((d) => connectAsync(svc.mqttUrl, { clientId: `ops-prom-${d}`, reconnectPeriod: 0 })));
      let n = 0;
      const base = Date.now() - 30_000;
      const timer = setInterval(() => {
        devices.forEach((c, d) => {
          c.publish(`devices/ops-prom-${d}/telemetry`, JSON.stringify({ ts: base + n, temperature: 20 + d }), { qos: 1 }, () => undefined);
        });
        n++;
      }, 50);
      try {
        const storedPerSecond = dashboardExpr('Readings stored/s');
        const connected = dashboardExpr('Connected devices');
        const pubackP99 = dashboardExpr('PUBACK latency (QoS 1)', 'C');
        const queueDepth = dashboardExpr('Queue depth (readings) vs capacity', 'A');
        const queueCapacity = dashboardExpr('Queue depth (readings) vs capacity', 'B');
        expect(pubackP99).toMatch(/^histogram_quantile\(0\.99,/);

        const headline = await waitFor(
          async () => {
            const [stored, clients, p99, depth, capacity] = await Promise.all([
              single(storedPerSecond),
              single(connected),
              single(pubackP99),
              vector(queueDepth),
              single(queueCapacity),
            ]);
            // Connected: the three devices above, once Prometheus has scraped since they came.
            const ok = stored !== undefined && stored > 0 && clients === 3 && p99 !== undefined && Number.isFinite(p99) && depth.length === 1;
            return ok ? { stored, clients, p99, depth, capacity } : undefined;
          },
          { timeoutMs: 15_000, intervalMs: 250, message: 'headline series' },
        );
        expect(headline.stored).toBeGreaterThan(0);
        expect(headline.p99).toBeGreaterThan(0);
        expect(headline.p99).toBeLessThanOrEqual(30); // the top finite bucket
        const depth = Number((headline.depth[0] as VectorSample).value[1]);
        expect(depth).toBeGreaterThanOrEqual(0);
        expect(depth).toBeLessThanOrEqual(MAX_QUEUED_READINGS);
        expect(headline.depth[0]?.metric.instance).toBe(`127.0.0.1:${svc.service.httpPort}`);
        expect(headline.capacity).toBe(MAX_QUEUED_READINGS);
      } finally {
        clearInterval(timer);
        await Promise.all(devices.map((c) => c.endAsync()));
      }
    });

    it('runs every dashboard and alert expression; each dashboard query returns series', async () => {
      const empty: string[] = [];
      for (const { source, expr } of expressions) {
        const data = await prom().query(expr); // rejects on a PromQL error
        if (source.startsWith('grafana/') && data.resultType === 'vector' && data.result.length === 0) empty.push(`${source}: ${expr}`);
      }
      expect(empty).toEqual([]);
    });
  });
});
