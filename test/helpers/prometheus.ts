// Prometheus for the operations tests: a parser of the text exposition format (what /metrics
// returns), the label names a PromQL expression relies on, and a real Prometheus server (Debian's
// `prometheus` package) started in its own process on a free loopback port with a generated
// config, queried over its HTTP API.
//
// The server runs under a small Node watchdog that kills it when the test process goes away by
// any means (the IPC channel closes), so a killed test worker leaves no Prometheus behind.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from './dynamo-servers.ts';
import { extractMetricNames } from './promql.ts';

// ---- text exposition format ------------------------------------------------------------------

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The series name as exposed: `x_total`, `x_bucket`, `x_sum`, `x_count`, ... */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  type: MetricType;
  help: string;
  readonly samples: Sample[];
}

export interface Exposition {
  /** Families by their name (a histogram `x` holds the `x_bucket`/`x_sum`/`x_count` samples). */
  readonly families: ReadonlyMap<string, MetricFamily>;
  /** Every sample, in order. */
  readonly samples: readonly Sample[];
  /** The family a series name belongs to (`x_bucket` -> family `x` when `x` is a histogram). */
  familyOf(seriesName: string): MetricFamily | undefined;
  /** Names of the series that exist (`x_bucket`, not `x`, for a histogram). */
  seriesNames(): Set<string>;
  /** Label names seen on any series of this name. */
  labelNames(seriesName: string): Set<string>;
  /** Samples of this series name whose labels include `labels`. */
  select(seriesName: string, labels?: Readonly<Record<string, string>>): Sample[];
  /** Sum of the values of `select(seriesName, labels)` (0 when none). */
  sum(seriesName: string, labels?: Readonly<Record<string, string>>): number;
}

const SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  histogram: ['_bucket', '_sum', '_count', '_created'],
  summary: ['_sum', '_count', '_created'],
  counter: ['_total', '_created'],
};

/** Like Prometheus (Go's ParseFloat): NaN and Inf in any case. prom-client writes NaN as `Nan`. */
function parseValue(text: string): number {
  switch (text.toLowerCase()) {
    case '+inf':
    case 'inf':
      return Infinity;
    case '-inf':
      return -Infinity;
    case 'nan':
      return NaN;
    default: {
      const n = Number(text);
      if (text === '' || Number.isNaN(n)) throw new Error(`not a sample value: ${JSON.stringify(text)}`);
      return n;
    }
  }
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(n|\\)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** Parses `{a="x",b="y\"z"}` starting at `line[start] === '{'`; returns the labels and the index after `}`. */
function parseLabels(line: string, start: number, lineNo: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  const fail = (what: string): never => {
    throw new Error(`line ${lineNo}: ${what}: ${line}`);
  };
  for (;;) {
    while (line[i] === ' ') i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
    if (!m) fail('bad label name');
    const name = (m as RegExpExecArray)[0];
    i += name.length;
    while (line[i] === ' ') i++;
    if (line[i] !== '=') fail('expected =');
    i++;
    while (line[i] === ' ') i++;
    if (line[i] !== '"') fail('expected "');
    i++;
    let value = '';
    while (i < line.length && line[i] !== '"') {
      if (line[i] === '\\') {
        const c = line[i + 1];
        value += c === 'n' ? '\n' : (c ?? '');
        i += 2;
      } else {
        value += line[i];
        i++;
      }
    }
    if (line[i] !== '"') fail('unterminated label value');
    i++;
    if (name in labels) fail(`duplicate label ${name}`);
    labels[name] = value;
    while (line[i] === ' ') i++;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') fail('expected , or }');
  }
}

/**
 * Parses Prometheus text exposition format 0.0.4: `# HELP`, `# TYPE`, samples with optional labels
 * and timestamp. Throws on a malformed line, a sample of a family whose TYPE came after it, or a
 * second TYPE line for one family.
 */
export function parseExposition(text: string): Exposition {
  const families = new Map<string, MetricFamily>();
  const samples: Sample[] = [];
  const typed = new Set<string>();
  const family = (name: string): MetricFamily => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', help: '', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  /** The typed family a sample belongs to: its own name, or the name minus a type's suffix. */
  const owner = (seriesName: string): MetricFamily => {
    for (const f of families.values()) {
      if (!typed.has(f.name)) continue;
      if (seriesName === f.name && f.type !== 'histogram') return f;
      for (const suffix of SUFFIXES[f.type] ?? []) if (seriesName === f.name + suffix) return f;
    }
    return family(seriesName);
  };

  text.split('\n').forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(.*))?$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest = ''] = m as unknown as [string, string, string, string?];
      const f = family(name);
      if (kind === 'HELP') {
        f.help = unescapeHelp(rest);
      } else {
        if (typed.has(name)) throw new Error(`line ${lineNo}: second TYPE for ${name}`);
        if (f.samples.length > 0) throw new Error(`line ${lineNo}: TYPE for ${name} after its samples`);
        const type = rest.trim();
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type)) throw new Error(`line ${lineNo}: unknown type ${type}`);
        f.type = type as MetricType;
        typed.add(name);
      }
      return;
    }
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!m) throw new Error(`line ${lineNo}: no metric name: ${line}`);
    const name = m[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === '{') {
      const parsed = parseLabels(line, i, lineNo);
      labels = parsed.labels;
      i = parsed.end;
    }
    const fields = line.slice(i).trim().split(/\s+/);
    if (fields.length < 1 || fields.length > 2 || fields[0] === '') throw new Error(`line ${lineNo}: expected a value and an optional timestamp: ${line}`);
    if (fields.length === 2 && !/^-?\d+$/.test(fields[1] as string)) throw new Error(`line ${lineNo}: bad timestamp: ${line}`);
    const sample: Sample = { name, labels, value: parseValue(fields[0] as string) };
    owner(name).samples.push(sample);
    samples.push(sample);
  });

  const matches = (s: Sample, labels: Readonly<Record<string, string>>): boolean =>
    Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  const select = (seriesName: string, labels: Readonly<Record<string, string>> = {}): Sample[] =>
    samples.filter((s) => s.name === seriesName && matches(s, labels));
  return {
    families,
    samples,
    familyOf(seriesName) {
      for (const f of families.values()) if (f.samples.some((s) => s.name === seriesName)) return f;
      return undefined;
    },
    seriesNames: () => new Set(samples.map((s) => s.name)),
    labelNames(seriesName) {
      const names = new Set<string>();
      for (const s of samples) if (s.name === seriesName) for (const k of Object.keys(s.labels)) names.add(k);
      return names;
    },
    select,
    sum: (seriesName, labels) => select(seriesName, labels).reduce((a, s) => a + s.value, 0),
  };
}

/** Only the families whose name passes `keep` (HELP, TYPE and samples), e.g. to lint the service's own metrics. */
export function filterExposition(text: string, keep: (familyName: string) => boolean): string {
  const exposition = parseExposition(text);
  const out: string[] = [];
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const meta = /^#\s+(?:HELP|TYPE)\s+(\S+)/.exec(line);
    if (meta) current = meta[1];
    else if (line.trim() !== '' && !line.startsWith('#')) current = exposition.familyOf(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] ?? '')?.name;
    if (line.trim() === '') continue;
    if (current !== undefined && keep(current)) out.push(line);
  }
  return `${out.join('\n')}\n`;
}

/** `promtool check metrics` on the given exposition text: status and output. */
export function promtoolCheckMetrics(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

// ---- label names a PromQL expression relies on ----------------------------------------------

interface Tok {
  readonly kind: 'ident' | 'string' | 'punct' | 'other';
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

const AGGREGATIONS: ReadonlySet<string> = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk',
  'quantile', 'limitk', 'limit_ratio',
]);
const GROUPING = new Set(['by', 'without']);
const MATCHING = new Set(['on', 'ignoring', 'group_left', 'group_right']);
const NOT_METRICS = new Set([...AGGREGATIONS, ...GROUPING, ...MATCHING, 'and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

function tokens(expr: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i] as string;
    const start = i;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
    } else if (c === '"' || c === "'" || c === '`') {
      let value = '';
      i++;
      while (i < expr.length && expr[i] !== c) {
        if (expr[i] === '\\' && c !== '`') {
          value += expr[i + 1] ?? '';
          i += 2;
        } else {
          value += expr[i];
          i++;
        }
      }
      i++;
      out.push({ kind: 'string', text: value, start, end: i });
    } else if (c === '[') {
      while (i < expr.length && expr[i] !== ']') i++;
      i++;
      out.push({ kind: 'other', text: expr.slice(start, i), start, end: i });
    } else if (c === '$') {
      i++;
      if (expr[i] === '{') {
        while (i < expr.length && expr[i] !== '}') i++;
        i++;
      } else {
        while (i < expr.length && /[A-Za-z0-9_]/.test(expr[i] as string)) i++;
      }
      out.push({ kind: 'other', text: expr.slice(start, i), start, end: i });
    } else if (/[0-9.]/.test(c)) {
      while (i < expr.length && /[0-9A-Za-z_.]/.test(expr[i] as string)) i++;
      out.push({ kind: 'other', text: expr.slice(start, i), start, end: i });
    } else if (/[A-Za-z_:]/.test(c)) {
      while (i < expr.length && /[A-Za-z0-9_:]/.test(expr[i] as string)) i++;
      out.push({ kind: 'ident', text: expr.slice(start, i), start, end: i });
    } else {
      i++;
      out.push({ kind: 'punct', text: c, start, end: i });
    }
  }
  return out;
}

/** Index of the token closing the bracket opened at `open`. */
function closing(toks: readonly Tok[], open: number): number {
  const o = toks[open]?.text;
  const c = o === '(' ? ')' : '}';
  let depth = 0;
  for (let i = open; i < toks.length; i++) {
    const t = toks[i] as Tok;
    if (t.kind !== 'punct') continue;
    if (t.text === o) depth++;
    else if (t.text === c && --depth === 0) return i;
  }
  return toks.length - 1;
}

function identList(toks: readonly Tok[], open: number, close: number): string[] {
  return toks.slice(open + 1, close).filter((t) => t.kind === 'ident').map((t) => t.text);
}

export interface LabelUsage {
  /** `matcher` ({label op value}), `grouping` (by/without) or `matching` (on/ignoring/group_*). */
  readonly kind: 'matcher' | 'grouping' | 'matching';
  readonly labels: readonly string[];
  /**
   * The metrics the labels must be found on. A matcher: its selector's metric. A grouping: every
   * metric inside the aggregated expression. A matching clause: the metrics of the whole
   * expression (the label must be on at least one of them).
   */
  readonly metrics: readonly string[];
}

/**
 * Where a PromQL expression relies on label names: selector matchers, `by`/`without` lists of
 * aggregations (in either position: `sum by (x) (e)` and `sum(e) by (x)`), and vector matching
 * lists. A tokenizer-level analysis, enough for dashboard and alert expressions.
 */
export function labelUsages(expr: string): LabelUsage[] {
  const toks = tokens(expr);
  const usages: LabelUsage[] = [];
  const textOf = (from: number, to: number): string => expr.slice((toks[from] as Tok).start, (toks[to] as Tok).end);
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i] as Tok;
    if (t.kind === 'punct' && t.text === '{') {
      const close = closing(toks, i);
      const prev = toks[i - 1];
      const labels: string[] = [];
      let metric = prev?.kind === 'ident' && !NOT_METRICS.has(prev.text.toLowerCase()) ? prev.text : undefined;
      for (let j = i + 1; j < close; j++) {
        const l = toks[j] as Tok;
        const op = toks[j + 1];
        if (l.kind !== 'ident' || op?.kind !== 'punct' || !['=', '!'].includes(op.text)) continue;
        if (l.text === '__name__') {
          const value = toks.slice(j + 1, close).find((x) => x.kind === 'string');
          if (value) metric = value.text;
        } else {
          labels.push(l.text);
        }
      }
      if (metric !== undefined && labels.length > 0) usages.push({ kind: 'matcher', labels, metrics: [metric] });
      i = close;
      continue;
    }
    if (t.kind !== 'ident') continue;
    const word = t.text.toLowerCase();
    const next = toks[i + 1];
    if (GROUPING.has(word) && next?.kind === 'punct' && next.text === '(') {
      const listClose = closing(toks, i + 1);
      const labels = identList(toks, i + 1, listClose);
      let body: string | undefined;
      const prev = toks[i - 1];
      if (prev?.kind === 'ident' && AGGREGATIONS.has(prev.text.toLowerCase())) {
        // sum by (x) (body)
        const open = listClose + 1;
        if (toks[open]?.text === '(') body = textOf(open, closing(toks, open));
      } else if (prev?.kind === 'punct' && prev.text === ')') {
        // sum (body) by (x): find the matching '('
        let depth = 0;
        for (let j = i - 1; j >= 0; j--) {
          const x = toks[j] as Tok;
          if (x.kind !== 'punct') continue;
          if (x.text === ')') depth++;
          else if (x.text === '(' && --depth === 0) {
            body = textOf(j, i - 1);
            break;
          }
        }
      }
      usages.push({ kind: 'grouping', labels, metrics: body === undefined ? extractMetricNames(expr) : extractMetricNames(body) });
      i = listClose;
      continue;
    }
    if (MATCHING.has(word) && next?.kind === 'punct' && next.text === '(') {
      const listClose = closing(toks, i + 1);
      const labels = identList(toks, i + 1, listClose);
      if (labels.length > 0) usages.push({ kind: 'matching', labels, metrics: extractMetricNames(expr) });
      i = listClose;
    }
  }
  return usages;
}

// ---- a real Prometheus server --------------------------------------------------------------

export interface PrometheusServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly configFile: string;
  /** The last lines Prometheus wrote (its log goes to stderr). */
  output(): string;
  /** Instant query; resolves with `data` of a successful answer, rejects with the API's error otherwise. */
  query(expr: string): Promise<QueryData>;
  /** GET /api/v1/<path>; resolves with `data`. */
  api<T>(path: string): Promise<T>;
  /** SIGTERM, SIGKILL after 5 s; removes the data directory. */
  stop(): Promise<void>;
}

export interface VectorSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}
export type QueryData =
  | { readonly resultType: 'vector'; readonly result: VectorSample[] }
  | { readonly resultType: 'scalar' | 'string'; readonly result: [number, string] }
  | { readonly resultType: 'matrix'; readonly result: unknown[] };

export interface ScrapeJob {
  readonly jobName: string;
  /** host:port */
  readonly targets: readonly string[];
  readonly intervalSeconds?: number;
  readonly metricsPath?: string;
}

export interface PrometheusOptions {
  readonly jobs: readonly ScrapeJob[];
  /** Absolute paths of rule files. */
  readonly ruleFiles?: readonly string[];
  /** Rule evaluation interval (default 1 s). */
  readonly evaluationIntervalSeconds?: number;
  /** The binary (default `prometheus` on PATH). */
  readonly binary?: string;
}

const PROMETHEUS_START_TIMEOUT_MS = 30_000;
const PROMETHEUS_STOP_GRACE_MS = 5_000;

/** Is a Prometheus binary on PATH? (Debian: `apt-get install -y prometheus`.) */
export function hasPrometheus(binary = 'prometheus'): boolean {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  return r.error === undefined && r.status === 0;
}

/** The config Prometheus gets: YAML is a superset of JSON, so it is written as JSON. */
export function prometheusConfig(options: PrometheusOptions): string {
  const evaluation = options.evaluationIntervalSeconds ?? 1;
  return JSON.stringify(
    {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: `${evaluation}s` },
      rule_files: options.ruleFiles ?? [],
      scrape_configs: options.jobs.map((j) => ({
        job_name: j.jobName,
        scrape_interval: `${j.intervalSeconds ?? 1}s`,
        scrape_timeout: `${j.intervalSeconds ?? 1}s`,
        metrics_path: j.metricsPath ?? '/metrics',
        static_configs: [{ targets: j.targets }],
      })),
    },
    null,
    2,
  );
}

/**
 * Starts Prometheus on a free loopback port with its own data directory and a generated config,
 * and resolves once /-/ready answers. A port taken in between (Prometheus exits: "address already
 * in use") is retried on another one.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnPort(options, await findFreePort());
    } catch (err) {
      lastError = err;
      if (!/address already in use|bind/i.test(String((err as Error).message))) break;
    }
  }
  throw new Error('Prometheus did not start', { cause: lastError });
}

async function startOnPort(options: PrometheusOptions, port: number): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ops-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, prometheusConfig(options));
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=1h',
    '--log.level=info',
  ];
  // The watchdog: runs Prometheus, prints its pid, kills it when told to (SIGTERM) or when the
  // test process is gone (IPC channel closed); exits when Prometheus has exited.
  const script = [
    "const { spawn } = require('node:child_process');",
    'const [binary, ...args] = process.argv.slice(1);',
    "const p = spawn(binary, args, { stdio: ['ignore', 'inherit', 'inherit'] });",
    "console.log('PROMETHEUS_PID=' + p.pid);",
    'let stopping = false;',
    'const stop = () => {',
    '  if (stopping) return; stopping = true;',
    "  p.kill('SIGTERM');",
    `  setTimeout(() => p.kill('SIGKILL'), ${PROMETHEUS_STOP_GRACE_MS}).unref();`,
    '};',
    "process.on('SIGTERM', stop);",
    "process.on('disconnect', stop);",
    "p.on('error', (err) => { console.error(String(err)); process.exit(127); });",
    "p.on('exit', (code, signal) => { console.log('PROMETHEUS_EXIT=' + (code ?? signal)); process.exit(code ?? 0); });",
  ].join('\n');
  const child = spawn(process.execPath, ['-e', script, options.binary ?? 'prometheus', ...args], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let tail = '';
  const append = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-8_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const killOnExit = (): void => {
    child.kill('SIGTERM');
  };
  process.once('exit', killOnExit);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      process.off('exit', killOnExit);
      if (!hasExited(child)) {
        const pid = Number(/PROMETHEUS_PID=(\d+)/.exec(tail)?.[1]);
        const signal = (s: NodeJS.Signals): void => {
          // Prometheus itself first; the watchdog exits when it does.
          if (pid > 0) {
            try {
              process.kill(pid, s);
            } catch {
              // already gone
            }
          }
          child.kill(s);
        };
        signal('SIGTERM');
        const timer = setTimeout(() => signal('SIGKILL'), PROMETHEUS_STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      if (child.connected) child.disconnect();
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}/api/v1/${path}`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as { status: string; data?: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.errorType ?? ''} ${body.error ?? res.status}`);
    return body.data as T;
  };

  try {
    const deadline = Date.now() + PROMETHEUS_START_TIMEOUT_MS;
    for (;;) {
      if (hasExited(child)) throw new Error(`prometheus exited (code ${child.exitCode}, signal ${child.signalCode}): ${tail}`);
      try {
        const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
        if (res.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`prometheus not ready within ${PROMETHEUS_START_TIMEOUT_MS} ms: ${tail}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    url,
    configFile,
    output: () => tail,
    api,
    query: (expr) => api<QueryData>(`query?query=${encodeURIComponent(expr)}`),
    stop,
  };
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

