// What one scenario's measurement yields, the ratios between scenarios of the same run, and the
// readable table. JSON keys carry their units, like the service's metric names.

export interface ScenarioFigures {
  readonly kind: 'scenario';
  readonly scenario: string;
  readonly ok: true;
  readonly description: string;
  readonly connections: number;
  readonly window: number;
  readonly measured_s: number;
  /** PUBACKs received by the generator per second (durable acks: = readings stored). */
  readonly acked_per_s: number;
  /** Readings the server reports stored per second (its own counter); null when it stores nothing. */
  readonly stored_per_s: number | null;
  readonly server_cpu_s_per_million: number;
  readonly total_cpu_s_per_million: number;
  /** Average cores busy during the measured window (1 = one core). */
  readonly server_cpu_cores: number;
  readonly total_cpu_cores: number;
  readonly generator_cpu_cores: number;
  /** The whole machine's busy cores during the window (from /proc/stat). */
  readonly machine_cpu_cores: number;
  /** Busy cores not ours (neither server side nor generator): other work on a shared machine. */
  readonly other_cpu_cores: number;
  readonly dynamodb_requests_per_reading: number | null;
  readonly puback_p50_ms: number;
  readonly puback_p90_ms: number;
  readonly puback_p99_ms: number;
  readonly puback_max_ms: number;
  /** Paced phase: offered rate, achieved ack rate, PUBACK latency below saturation. */
  readonly paced_rate_per_s: number | null;
  readonly paced_acked_per_s: number | null;
  readonly paced_puback_p50_ms: number | null;
  readonly paced_puback_p99_ms: number | null;
  readonly paced_skipped: number | null;
  readonly idle_connections: number;
  readonly rss_per_connection_kb: number;
  readonly rss_base_mb: number;
  readonly rss_loaded_mb: number;
  /** Server CPU per accepted connection (CONNECT to CONNACK), ms. */
  readonly connect_cpu_ms: number;
  /** Seconds the service took, after the RSS phase, to write the idle devices' presence (waited for). */
  readonly presence_drain_s: number;
  /** Connections the server closed while measured (should be 0). */
  readonly disconnects: number;
  readonly eventloop_lag_p99_ms: number | null;
  /** Seconds of load before the measured window, and the PUBACKs the generator had by then. */
  readonly warmup_s: number;
  readonly warmup_acked: number;
}

export interface ScenarioFailure {
  readonly kind: 'scenario';
  readonly scenario: string;
  readonly ok: false;
  readonly error: string;
}

export type ScenarioResult = ScenarioFigures | ScenarioFailure;

export interface Ratio {
  readonly name: string;
  readonly value: number | null;
  readonly meaning: string;
}

interface RatioSpec {
  readonly name: string;
  readonly numerator: string;
  readonly denominator: string;
  readonly figure: (f: ScenarioFigures) => number | null;
  readonly meaning: string;
}

const storedOrAcked = (f: ScenarioFigures): number => f.stored_per_s ?? f.acked_per_s;

const RATIOS: readonly RatioSpec[] = [
  { name: 'throughput pipeline-null-dynamo / aedes-raw', numerator: 'pipeline-null-dynamo', denominator: 'aedes-raw', figure: (f) => f.acked_per_s, meaning: 'share of the bare broker\'s ack rate the pipeline keeps (1 = free)' },
  { name: 'throughput pipeline-embedded / naive-putitem', numerator: 'pipeline-embedded', denominator: 'naive-putitem', figure: storedOrAcked, meaning: 'batching vs one PutItem per message, same dynalite' },
  { name: 'throughput pipeline-embedded / pipeline-null-dynamo', numerator: 'pipeline-embedded', denominator: 'pipeline-null-dynamo', figure: storedOrAcked, meaning: 'what the embedded database costs the pipeline' },
  { name: 'server CPU/reading pipeline-null-dynamo / aedes-raw', numerator: 'pipeline-null-dynamo', denominator: 'aedes-raw', figure: (f) => f.server_cpu_s_per_million, meaning: 'broker-process CPU per reading vs the bare broker' },
  { name: 'total CPU/reading pipeline-embedded / naive-putitem', numerator: 'pipeline-embedded', denominator: 'naive-putitem', figure: (f) => f.total_cpu_s_per_million, meaning: 'server + database CPU per stored reading' },
  { name: 'paced PUBACK p50 pipeline-embedded / naive-putitem', numerator: 'pipeline-embedded', denominator: 'naive-putitem', figure: (f) => f.paced_puback_p50_ms, meaning: 'at low load batching costs latency (linger) that one PutItem does not' },
  { name: 'paced PUBACK p99 pipeline-embedded / naive-putitem', numerator: 'pipeline-embedded', denominator: 'naive-putitem', figure: (f) => f.paced_puback_p99_ms, meaning: 'durable-ack latency at the paced rate (< 1: devices wait less)' },
  { name: 'RSS/connection pipeline-null-dynamo / aedes-raw', numerator: 'pipeline-null-dynamo', denominator: 'aedes-raw', figure: (f) => f.rss_per_connection_kb, meaning: 'memory per idle device vs the bare broker' },
];

export function computeRatios(results: readonly ScenarioResult[]): Ratio[] {
  const byName = new Map<string, ScenarioFigures>();
  for (const r of results) if (r.ok) byName.set(r.scenario, r);
  const out: Ratio[] = [];
  for (const spec of RATIOS) {
    const a = byName.get(spec.numerator);
    const b = byName.get(spec.denominator);
    if (!a || !b) continue;
    const x = spec.figure(a);
    const y = spec.figure(b);
    out.push({ name: spec.name, value: x === null || y === null || y === 0 ? null : x / y, meaning: spec.meaning });
  }
  return out;
}

const fmt = (n: number | null, digits = 0): string =>
  n === null || !Number.isFinite(n) ? '-' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function formatTable(results: readonly ScenarioResult[], ratios: readonly Ratio[]): string {
  const header = ['scenario', 'acked/s', 'stored/s', 'CPU s/M srv', 'CPU s/M total', 'req/reading', 'p50 ms', 'p99 ms', 'paced p50', 'paced p99', 'KB/conn', 'srv cores', 'tot cores', 'gen cores', 'other cores', 'warm-up s'];
  const rows = results.map((r) =>
    r.ok
      ? [
          r.scenario,
          fmt(r.acked_per_s),
          fmt(r.stored_per_s),
          fmt(r.server_cpu_s_per_million, 1),
          fmt(r.total_cpu_s_per_million, 1),
          fmt(r.dynamodb_requests_per_reading, 3),
          fmt(r.puback_p50_ms, 1),
          fmt(r.puback_p99_ms, 1),
          fmt(r.paced_puback_p50_ms, 1),
          fmt(r.paced_puback_p99_ms, 1),
          fmt(r.rss_per_connection_kb, 1),
          fmt(r.server_cpu_cores, 2),
          fmt(r.total_cpu_cores, 2),
          fmt(r.generator_cpu_cores, 2),
          fmt(r.other_cpu_cores, 2),
          fmt(r.warmup_s, 1),
        ]
      : [r.scenario, `FAILED: ${r.error.split('\n')[0]}`],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.filter((r) => r.length > 2).map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.length === 2 ? `${(cells[0] ?? '').padEnd(widths[0] ?? 0)}  ${cells[1]}` : cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  if (ratios.length > 0) {
    out.push('', 'Ratios (same run, same machine):');
    const w = Math.max(...ratios.map((r) => r.name.length));
    for (const r of ratios) out.push(`  ${r.name.padEnd(w)}  ${r.value === null ? '-' : `${fmt(r.value, 3)}x`.padStart(8)}   ${r.meaning}`);
  }
  return out.join('\n');
}

/** The embedded store's own BatchWrite ceiling (bench/embedded-ceiling.ts). */
export interface CeilingFigures {
  readonly kind: 'ceiling';
  readonly stored_per_s: number;
  readonly failed: number;
  readonly client_cpu_cores: number;
  /** CPU of the store process (dynalite) per second of the measured window. */
  readonly store_cpu_cores: number;
  readonly concurrency: number;
  /** Seconds of load before the measured window. */
  readonly warmup_s: number;
}

export interface TargetRow {
  readonly figure: string;
  readonly value: number | null;
  readonly unit: string;
  readonly target: string;
  readonly met: boolean | null;
  /** Lowest and highest value over the runs, for a median of several runs. */
  readonly spread?: readonly [number, number];
}

/** Every figure of issue #9's table with its target beside it, met or not. */
export function computeTargets(results: readonly ScenarioResult[], ceiling: CeilingFigures | undefined): TargetRow[] {
  const by = new Map<string, ScenarioFigures>();
  for (const r of results) if (r.ok) by.set(r.scenario, r);
  const raw = by.get('aedes-raw');
  const nul = by.get('pipeline-null-dynamo');
  const emb = by.get('pipeline-embedded');
  const naive = by.get('naive-putitem');
  const ratio = (a: number | null | undefined, b: number | null | undefined): number | null => (a == null || b == null || b === 0 ? null : a / b);
  const row = (figure: string, value: number | null, unit: string, target: string, ok: (v: number) => boolean): TargetRow => ({ figure, value, unit, target, met: value === null ? null : ok(value) });
  const fill = (f: ScenarioFigures | undefined): number | null => (f?.dynamodb_requests_per_reading ? 1 / f.dynamodb_requests_per_reading : null);
  return [
    row('pipeline into a do-nothing endpoint / bare aedes, readings/s', ratio(nul?.acked_per_s, raw?.acked_per_s), 'x', '>= 0.5x', (v) => v >= 0.5),
    row('server CPU per reading (all threads) / bare aedes', ratio(nul?.server_cpu_s_per_million, raw?.server_cpu_s_per_million), 'x', '<= 2.5x', (v) => v <= 2.5),
    row('pipeline into the embedded dynalite / naive one-PutItem pipeline', ratio(emb && storedOrAcked(emb), naive && storedOrAcked(naive)), 'x', '>= 5x', (v) => v >= 5),
    row('pipeline into the embedded dynalite / its own BatchWrite ceiling', ratio(emb && storedOrAcked(emb), ceiling?.stored_per_s), 'x', '>= 0.9x', (v) => v >= 0.9),
    row('batch fill at saturation (pipeline-null-dynamo)', fill(nul), 'items/request', '>= 23', (v) => v >= 23),
    row('batch fill at saturation (pipeline-embedded)', fill(emb), 'items/request', '>= 23', (v) => v >= 23),
    row('paced PUBACK p50 (pipeline-null-dynamo)', nul?.paced_puback_p50_ms ?? null, 'ms', '<= 3 ms', (v) => v <= 3),
    row('paced PUBACK p50 (pipeline-embedded)', emb?.paced_puback_p50_ms ?? null, 'ms', '<= 3 ms', (v) => v <= 3),
  ];
}

/**
 * Each target's median over several runs (the machine moves every figure by 10-30 % from run to
 * run), with the lowest and highest value; met or not by the median.
 */
export function medianTargets(runs: readonly (readonly TargetRow[])[]): TargetRow[] {
  const first = runs[0] ?? [];
  return first.map((row, i) => {
    const values = runs.map((r) => r[i]?.value).filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
    if (values.length === 0) return { ...row, value: null, met: null };
    const mid = Math.floor(values.length / 2);
    const median = values.length % 2 === 1 ? (values[mid] as number) : ((values[mid - 1] as number) + (values[mid] as number)) / 2;
    const [, op, bound] = /^(>=|<=)\s*([\d.]+)/.exec(row.target) ?? [];
    const met = op === undefined ? null : op === '>=' ? median >= Number(bound) : median <= Number(bound);
    return { ...row, value: median, met, spread: [values[0] as number, values[values.length - 1] as number] };
  });
}

export function formatTargets(rows: readonly TargetRow[], ceiling: CeilingFigures | undefined, title = 'Targets (issue #9):'): string {
  const w = Math.max(...rows.map((r) => r.figure.length));
  const out = [title];
  const show = (v: number, unit: string): string => `${fmt(v, unit === 'x' ? 2 : 1)}${unit === 'x' ? 'x' : ` ${unit}`}`;
  for (const r of rows) {
    const value = r.value === null ? '-' : show(r.value, r.unit);
    const spread = r.spread ? `  (${fmt(r.spread[0], r.unit === 'x' ? 2 : 1)}-${show(r.spread[1], r.unit)})` : '';
    out.push(`  ${r.figure.padEnd(w)}  ${value.padStart(18)}   target ${r.target.padEnd(8)}  ${r.met === null ? 'not measured' : r.met ? 'met' : 'NOT met'}${spread}`);
  }
  if (ceiling) out.push(`  (embedded BatchWrite ceiling: ${fmt(ceiling.stored_per_s)} items/s at concurrency ${ceiling.concurrency} after ${fmt(ceiling.warmup_s, 1)} s of warm-up, client ${fmt(ceiling.client_cpu_cores, 2)} cores, store ${fmt(ceiling.store_cpu_cores, 2)} cores (${fmt(ceiling.store_cpu_cores / ceiling.stored_per_s * 1e6, 0)} CPU-s per million items), ${ceiling.failed} failed requests)`);
  return out.join('\n');
}
