// Static checks of the operations files: Prometheus config and alert rules (promtool), the Grafana
// dashboard JSON, the compose file (docker-compose 1.29, installed by .ci/run) and the Dockerfile, plus
// the PromQL helpers the live-metrics tests use. No service is started here.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../src/metrics/registry.ts';
import { REPO_ROOT, collectExpressions, extractMetricNames, ruleExpressions, substituteVariables } from './helpers/promql.ts';

interface RunResult {
  readonly status: number | null;
  readonly output: string;
}

function run(command: string, args: string[]): RunResult {
  const r = spawnSync(command, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(`${command} is not installed (Debian: apt-get install -y ${command === 'promtool' ? 'prometheus' : command})`);
  }
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function hasBinary(command: string): boolean {
  return spawnSync(command, ['--version'], { encoding: 'utf8' }).error === undefined;
}

const tmp = mkdtempSync(join(tmpdir(), 'ops-static-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels?: Panel[];
  templating?: { list?: { name?: string; datasource?: { uid?: string } }[] };
}

const DASHBOARD_DIR = join(REPO_ROOT, 'grafana', 'dashboards');
const dashboards = readdirSync(DASHBOARD_DIR)
  .filter((f) => f.endsWith('.json'))
  .map((file) => ({ file, dashboard: JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')) as Dashboard }));

function allPanels(panels: Panel[] | undefined): Panel[] {
  return (panels ?? []).flatMap((p) => [p, ...allPanels(p.panels)]);
}

/** Every series name the service exposes: histograms as _bucket/_sum/_count, counters as named. */
function exposedSeriesNames(): Set<string> {
  const { registry } = createMetrics({ defaultMetrics: true });
  const names = new Set<string>();
  for (const metric of registry.getMetricsAsArray()) {
    const { name, type } = metric as unknown as { name: string; type: string };
    if (type === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    } else if (type === 'summary') {
      for (const suffix of ['', '_sum', '_count']) names.add(name + suffix);
    } else {
      names.add(name);
    }
  }
  registry.clear();
  return names;
}
/** Series Prometheus adds itself for every target. */
const PROMETHEUS_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

describe('extractMetricNames', () => {
  it.each([
    ['iot_ingest_ready', ['iot_ingest_ready']],
    ['iot_ingest_ready{job="iot-ingest", instance=~"$instance"} == 0', ['iot_ingest_ready']],
    ['rate(iot_ingest_readings_stored_total[5m])', ['iot_ingest_readings_stored_total']],
    ['sum by (reason) (rate(iot_ingest_invalid_messages_total{job="x"}[$__rate_interval]))', ['iot_ingest_invalid_messages_total']],
    ['sum without (instance, pod) (iot_ingest_queue_bytes)', ['iot_ingest_queue_bytes']],
    [
      'histogram_quantile(0.99, sum by (le) (rate(iot_ingest_receive_to_store_seconds_bucket[5m])))',
      ['iot_ingest_receive_to_store_seconds_bucket'],
    ],
    [
      'sum(rate(iot_ingest_batch_size_readings_sum[1m])) / sum(rate(iot_ingest_batch_size_readings_count[1m])) / 25',
      ['iot_ingest_batch_size_readings_sum', 'iot_ingest_batch_size_readings_count'],
    ],
    [
      'a_total > 0 and on (job, instance) group_left (version) b_info unless ignoring(code) c_total',
      ['a_total', 'b_info', 'c_total'],
    ],
    ['x / on() group_right y', ['x', 'y']],
    ['absent(up{job="iot-ingest"})', ['up']],
    ['label_replace(m, "dst", "$1", "src", "(.*)")', ['m']],
    ['{__name__="via_name_matcher", job="j"}', ['via_name_matcher']],
    ['{job="only_labels"}', []],
    ['max_over_time(m[5m:30s] offset 1h) @ start()', ['m']],
    ['sum by (le) (increase(h_bucket{code!~"5..|4.."}[1h]))', ['h_bucket']],
    ['vector(1) + scalar(m) * 1e3 + 0x1F - Inf', ['m']],
    ['topk(5, sum by (operation, outcome) (rate(d_count[5m])))', ['d_count']],
    ["count_values('v', m) or count(m2) # trailing comment mentions not_a_metric", ['m', 'm2']],
    ['ns:recorded:rate5m > bool 3', ['ns:recorded:rate5m']],
    ['m{job="a"} - m{job="b"}', ['m']],
    ['sum(m) by (le)', ['m']],
    ['rate(m[${__rate_interval}])', ['m']],
  ])('%s', (expr, expected) => {
    expect(extractMetricNames(expr)).toEqual(expected);
  });
});

describe('collectExpressions', () => {
  const expressions = collectExpressions();

  it('finds panel, variable and rule expressions', () => {
    expect(expressions.some((e) => e.source.startsWith('grafana/dashboards/') && e.source.includes(' panel '))).toBe(true);
    expect(expressions.some((e) => e.source.includes(' variable '))).toBe(true);
    expect(expressions.some((e) => e.source.startsWith('prometheus/alerts.yml'))).toBe(true);
    for (const e of expressions) expect(e.expr.trim(), e.source).not.toBe('');
  });

  it('substitutes Grafana variables by default and keeps them on request', () => {
    expect(expressions.every((e) => !e.expr.includes('$'))).toBe(true);
    expect(collectExpressions({ substituteVariables: false }).some((e) => e.expr.includes('$__rate_interval'))).toBe(true);
    expect(substituteVariables('rate(m{job="$job",i=~"${instance}"}[$__rate_interval])', { job: 'j', instance: '.*', __rate_interval: '1m' })).toBe(
      'rate(m{job="j",i=~".*"}[1m])',
    );
  });

  it('reads plain, quoted and block-scalar rule expressions', () => {
    const text = [
      'groups:',
      '  - name: g',
      '    rules:',
      '      - alert: Plain',
      '        expr: up == 0',
      '        for: 1m',
      '      - record: job:quoted',
      '        expr: "sum(rate(a_total[5m]))"',
      '      - alert: Block',
      '        expr: |',
      '          a > 0',
      '          and on (job) b == 0',
      '        labels: {severity: warning}',
      '      - alert: Folded',
      '        expr: >-',
      '          c',
      '          > 1',
      '      - alert: Continued',
      '        expr: d',
      '          > 2',
    ].join('\n');
    expect(ruleExpressions(text, 'r.yml')).toEqual([
      { source: 'r.yml group g alert Plain', expr: 'up == 0' },
      { source: 'r.yml group g record job:quoted', expr: 'sum(rate(a_total[5m]))' },
      { source: 'r.yml group g alert Block', expr: 'a > 0\nand on (job) b == 0' },
      { source: 'r.yml group g alert Folded', expr: 'c > 1' },
      { source: 'r.yml group g alert Continued', expr: 'd > 2' },
    ]);
  });

  it('references only metrics the service registry exposes (or Prometheus adds)', () => {
    const exposed = exposedSeriesNames();
    const unknown = expressions.flatMap((e) =>
      extractMetricNames(e.expr)
        .filter((name) => !exposed.has(name) && !PROMETHEUS_SERIES.has(name))
        .map((name) => `${e.source}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it('every dashboard expression is valid PromQL (promtool, as recording rules)', () => {
    const panelExprs = expressions.filter((e) => e.source.startsWith('grafana/'));
    const rules = panelExprs.map((e, i) => `      - record: dashboard_expr_${i}\n        expr: ${JSON.stringify(e.expr)}`).join('\n');
    const file = join(tmp, 'dashboard-exprs.yml');
    writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules}\n`);
    const r = run('promtool', ['check', 'rules', file]);
    expect(r.output).toContain(`SUCCESS: ${panelExprs.length} rules found`);
    expect(r.status, r.output).toBe(0);
  });
});

describe('prometheus', () => {
  it('promtool check config prometheus/prometheus.yml', () => {
    const r = run('promtool', ['check', 'config', 'prometheus/prometheus.yml']);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });

  it('promtool check rules prometheus/alerts.yml', () => {
    const r = run('promtool', ['check', 'rules', 'prometheus/alerts.yml']);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('the scrape job is iot-ingest at ingest:9464 every 5s, with the alert rules loaded', () => {
    const config = readFileSync(join(REPO_ROOT, 'prometheus', 'prometheus.yml'), 'utf8');
    expect(config).toMatch(/job_name:\s*iot-ingest\s*\n\s*scrape_interval:\s*5s/);
    expect(config).toContain("'ingest:9464'");
    expect(config).toMatch(/rule_files:\s*\n\s*-\s*alerts\.yml/);
  });

  it('every alert has summary, description and a runbook_url to its own section of docs/runbook.md; no job is hard-coded', () => {
    const text = readFileSync(join(REPO_ROOT, 'prometheus', 'alerts.yml'), 'utf8');
    const runbook = readFileSync(join(REPO_ROOT, 'docs', 'runbook.md'), 'utf8');
    const blocks = text.split(/^\s*- alert: /m).slice(1);
    expect(blocks.length).toBe(13);
    for (const block of blocks) {
      const name = block.split('\n')[0]?.trim() as string;
      expect(block, name).toMatch(/^\s+summary: \S/m);
      expect(block, name).toMatch(/^\s+description: \S/m);
      expect(block, name).toContain(`runbook_url: docs/runbook.md#${name.toLowerCase()}`);
      expect(runbook, name).toContain(`\n## ${name}\n`);
    }
    for (const { expr, source } of ruleExpressions(text, 'alerts.yml')) expect(expr, source).not.toMatch(/\bjob\s*=/);
  });

  it('alerts fire on the series they watch (promtool test rules)', () => {
    // promtool compares annotations too; they are prose, so test a copy without them.
    const rules = readFileSync(join(REPO_ROOT, 'prometheus', 'alerts.yml'), 'utf8').split('\n');
    const kept: string[] = [];
    let skipIndent = -1;
    for (const line of rules) {
      const indent = line.length - line.trimStart().length;
      if (skipIndent >= 0 && (line.trim() === '' || indent > skipIndent)) continue;
      skipIndent = /^\s*annotations:\s*$/.test(line) ? indent : -1;
      if (skipIndent < 0) kept.push(line);
    }
    const rulesFile = join(tmp, 'alerts-no-annotations.yml');
    writeFileSync(rulesFile, kept.join('\n'));
    const s = (name: string, values: string, labels = 'job="iot-ingest",instance="a:9464"'): string =>
      `      - series: '${name}{${labels}}'\n        values: '${values}'`;
    const alert = (at: string, name: string, labels: string | null): string =>
      `      - eval_time: ${at}\n        alertname: ${name}\n        exp_alerts:${labels === null ? ' []' : `\n          - exp_labels: {${labels}}`}`;
    const inst = 'job: iot-ingest, instance: "a:9464"';
    const tests = [
      // Queue above 80% for a minute fires; at 50% nothing.
      [[s('iot_ingest_queue_readings', '17000+0x20'), s('iot_ingest_queue_capacity_readings', '20000+0x20'),
        s('iot_ingest_queue_bytes', '1000+0x20'), s('iot_ingest_queue_capacity_bytes', '2000+0x20')],
      [alert('3m', 'IotIngestQueueNearFullReadings', `severity: warning, ${inst}`), alert('3m', 'IotIngestQueueNearFullBytes', null)]],
      // A target that stops answering, and a job with no target at all.
      [[s('up', '1 1 0+0x20'), s('iot_ingest_build_info', '1 1')], [alert('1m', 'IotIngestDown', null), alert('4m', 'IotIngestDown', `severity: critical, ${inst}`)]],
      // Another job's target going down is not this service's alert, whatever the job names.
      [[s('up', '1 1 0+0x20', 'job="other",instance="b:80"'), s('iot_ingest_build_info', '1+0x20')], [alert('4m', 'IotIngestDown', null)]],
      [[s('up', '1+0x40', 'job="other"')], [alert('10m', 'IotIngestTargetMissing', 'severity: critical')]],
      // DynamoDB errors while nothing is stored; storage giving up on messages.
      [[s('iot_ingest_dynamodb_errors_total', '0+10x60', 'job="iot-ingest",instance="a:9464",operation="BatchWriteItem",code="NetworkError"'),
        s('iot_ingest_readings_stored_total', '500+0x60'),
        s('iot_ingest_messages_received_total', '0+3x60', 'job="iot-ingest",instance="a:9464",result="failed"')],
      [alert('10m', 'IotIngestWritesFailing', `severity: critical, ${inst}`), alert('10m', 'IotIngestMessagesFailing', `severity: warning, ${inst}`)]],
      // Errors while readings are still stored: not "writes failing".
      [[s('iot_ingest_dynamodb_errors_total', '0+10x60', 'job="iot-ingest",instance="a:9464",operation="BatchWriteItem",code="NetworkError"'),
        s('iot_ingest_readings_stored_total', '0+500x60')], [alert('10m', 'IotIngestWritesFailing', null)]],
      // All readings in the 1 s..2.5 s bucket: p99 > 1 s.
      [[s('iot_ingest_receive_to_store_seconds_bucket', '0+0x60', 'job="iot-ingest",instance="a:9464",le="1"'),
        s('iot_ingest_receive_to_store_seconds_bucket', '0+100x60', 'job="iot-ingest",instance="a:9464",le="2.5"'),
        s('iot_ingest_receive_to_store_seconds_bucket', '0+100x60', 'job="iot-ingest",instance="a:9464",le="+Inf"')],
      [alert('12m', 'IotIngestEndToEndLatencyHigh', `severity: warning, ${inst}`)]],
      // 30 dead-letters per 15 s = 2/s.
      [[s('iot_ingest_dead_lettered_total', '0+30x60', 'job="iot-ingest",instance="a:9464",reason="malformed_json"')],
      [alert('12m', 'IotIngestDeadLetterRateHigh', `severity: warning, ${inst}`)]],
      // Devices connected, nothing stored for 10 minutes; and the same with readings flowing.
      [[s('iot_ingest_connected_clients', '10+0x80'), s('iot_ingest_readings_stored_total', '42+0x80')],
      [alert('15m', 'IotIngestNoReadingsStored', `severity: warning, ${inst}`)]],
      [[s('iot_ingest_connected_clients', '10+0x80'), s('iot_ingest_readings_stored_total', '0+10x80')],
      [alert('15m', 'IotIngestNoReadingsStored', null)]],
      // 20% of requests throttled for more than 10 minutes.
      [[s('iot_ingest_dynamodb_throttles_total', '0+2x100', 'job="iot-ingest",instance="a:9464",operation="BatchWriteItem"'),
        s('iot_ingest_dynamodb_request_duration_seconds_count', '0+8x100', 'job="iot-ingest",instance="a:9464",operation="BatchWriteItem",outcome="ok"'),
        s('iot_ingest_dynamodb_request_duration_seconds_count', '0+2x100', 'job="iot-ingest",instance="a:9464",operation="BatchWriteItem",outcome="throttled"')],
      [alert('20m', 'IotIngestDynamoDBThrottlingSustained', `severity: warning, ${inst}`)]],
    ] as const;
    const body = tests
      .map(([series, alerts]) => `  - interval: 15s\n    input_series:\n${series.join('\n')}\n    alert_rule_test:\n${alerts.join('\n')}`)
      .join('\n');
    const testFile = join(tmp, 'alerts.test.yml');
    writeFileSync(testFile, `rule_files:\n  - ${JSON.stringify(rulesFile)}\nevaluation_interval: 15s\ntests:\n${body}\n`);
    const r = run('promtool', ['test', 'rules', testFile]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });
});

describe('grafana', () => {
  it('has dashboards', () => {
    expect(dashboards.map((d) => d.file)).toContain('iot-ingest-overview.json');
  });

  it.each(dashboards)('$file: every panel queries the prometheus datasource variable with a non-empty expr', ({ dashboard }) => {
    expect(dashboard.uid).toBeTruthy();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const panels = allPanels(dashboard.panels).filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(0);
    for (const p of panels) {
      const where = `panel ${p.id} "${p.title}"`;
      expect(['timeseries', 'stat', 'gauge', 'bargauge', 'table', 'heatmap'], where).toContain(p.type);
      expect(p.datasource, where).toEqual({ type: 'prometheus', uid: '${datasource}' });
      const targets = p.targets ?? [];
      expect(targets.some((t) => typeof t.expr === 'string' && t.expr.trim() !== ''), where).toBe(true);
      for (const t of targets) {
        expect(t.datasource?.uid ?? p.datasource?.uid, `${where} ${t.refId}`).toBe('${datasource}');
        expect(t.expr?.trim(), `${where} ${t.refId}`).toBeTruthy();
      }
    }
    const [first, ...others] = dashboard.templating?.list ?? [];
    expect(first).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
    for (const v of others) expect(v.datasource?.uid, `variable ${v.name}`).toBe('${datasource}');
  });

  it.each(dashboards)('$file: every datasource reference is a variable, so it imports into a Grafana whose Prometheus has another name or uid', ({ dashboard }) => {
    const refs: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${path}[${i}]`));
      else if (node !== null && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          if (k === 'datasource' && v !== null && typeof v === 'object') refs.push(`${path}: ${JSON.stringify(v)}`);
          else if (k === 'datasource' && typeof v === 'string') refs.push(`${path}: "${v}"`);
          walk(v, `${path}.${k}`);
        }
      }
    };
    walk(dashboard, '$');
    expect(refs.length).toBeGreaterThan(50);
    // Grafana's own annotation source is built in and the same in every Grafana.
    const bad = refs.filter((r) => !r.includes('"uid":"${datasource}"') && !r.includes('"uid":"-- Grafana --"'));
    expect(bad).toEqual([]);
    expect(JSON.stringify(dashboard)).not.toMatch(/"uid":\s*"prometheus"/);
    expect(JSON.stringify(dashboard)).not.toContain('__inputs');
  });

  it.each(dashboards)('$file: panel ids are unique and panels fit the 24-column grid without overlapping', ({ dashboard }) => {
    const panels = allPanels(dashboard.panels);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Map<string, number | undefined>();
    for (const p of panels) {
      const g = p.gridPos;
      expect(g, `panel ${p.id}`).toBeDefined();
      if (!g) continue;
      expect(g.x + g.w, `panel ${p.id}`).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x += 1) {
        for (let y = g.y; y < g.y + g.h; y += 1) {
          expect(cells.get(`${x},${y}`), `panel ${p.id} overlaps at ${x},${y}`).toBeUndefined();
          cells.set(`${x},${y}`, p.id);
        }
      }
    }
  });

  it('the overview has the operator rows, in order', () => {
    const overview = dashboards.find((d) => d.file === 'iot-ingest-overview.json')?.dashboard;
    const rows = (overview?.panels ?? []).filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual(['Fleet', 'Throughput', 'Latency', 'DynamoDB', 'Backlog', 'Runtime']);
  });

  it('provisioning points at the prometheus datasource uid and the mounted dashboard folder', () => {
    const ds = readFileSync(join(REPO_ROOT, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8');
    expect(ds).toMatch(/uid:\s*prometheus\b/);
    expect(ds).toContain('url: http://prometheus:9090');
    const providers = readFileSync(join(REPO_ROOT, 'grafana/provisioning/dashboards/dashboards.yml'), 'utf8');
    expect(providers).toMatch(/type:\s*file/);
    expect(providers).toContain('path: /var/lib/grafana/dashboards');
  });
});

describe('containers', () => {
  it('docker-compose config -q accepts docker-compose.yml (1.29)', () => {
    // A missing validator is a failed check, not a skipped one: .ci/run installs it from Debian.
    expect(hasBinary('docker-compose'), 'docker-compose is not installed (apt-get install -y docker-compose)').toBe(true);
    for (const args of [['-f', 'docker-compose.yml', 'config', '-q'], ['-f', 'docker-compose.yml', '--profile', 'load', 'config', '-q']]) {
      const r = run('docker-compose', args);
      expect(r.status, r.output).toBe(0);
    }
  });

  it('DynamoDB Local keeps its data on a named volume; every long-running service has a health check', () => {
    const compose = readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
    const service = (name: string): string => compose.split(/^ {2}(?=\S)/m).find((b) => b.startsWith(`${name}:`)) ?? '';
    expect(service('dynamodb')).toContain('"-sharedDb", "-dbPath", "/home/dynamodblocal/data"');
    expect(service('dynamodb')).not.toContain('-inMemory');
    expect(service('dynamodb')).toContain('dynamodb-data:/home/dynamodblocal/data');
    expect(compose).toMatch(/^volumes:\n {2}dynamodb-data:/m);
    for (const name of ['ingest', 'dynamodb', 'prometheus', 'grafana']) expect(service(name), name).toMatch(/healthcheck:\n(\s+#.*\n)*\s+test:/);
    expect(service('simulator')).toContain('"${SIM_DURATION:-10m}"');
  });

  it('docker-compose.yml avoids keys docker-compose 1.29 rejects and wires the health checks', () => {
    const compose = readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
    expect(compose).not.toMatch(/^name:/m);
    expect(compose).not.toMatch(/^\s+required:/m);
    expect(compose).not.toMatch(/^\s+start_interval:/m);
    expect(compose).toContain('/readyz');
    expect(compose).toMatch(/condition:\s*service_healthy/);
    expect(compose).toMatch(/profiles:\s*\["load"\]/);
  });

  it('the Dockerfile is multi-stage, runs as node, exposes MQTT and HTTP, and checks /healthz', () => {
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^EXPOSE 1883 9464$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK [\s\S]*\/healthz/m);
    expect(dockerfile).toContain('CMD ["node", "bin/iot-ingest.js", "serve"]');
  });
});
