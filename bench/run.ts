// `npm run bench`: measures this project beside reference points in one run on one machine, each
// server in its own process, measured from outside (/proc for CPU and RSS, the service's /metrics
// or a server's IPC counters for what it stored, a raw-socket generator for acks and latency).
// Prints one JSON line per scenario and the ratios to stdout, then a table; progress goes to
// stderr; the JSON also goes to bench/results/latest.json. See bench/README.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { REPO_ROOT, forkBench, installCleanup, stopAll } from './children.ts';
import type { Child } from './children.ts';
import { request, waitForMessage } from './ipc.ts';
import type { LoadResult } from './ipc.ts';
import { cpuSeconds, machineBusySeconds, rssBytes, sampleCpu } from './procfs.ts';
import { computeRatios, computeTargets, formatTable, formatTargets, medianTargets } from './report.ts';
import type { CeilingFigures, ScenarioFigures, ScenarioResult } from './report.ts';
import { SCENARIOS } from './scenarios.ts';
import { untilCount, untilNone } from './warmup.ts';
import type { Scenario, Target } from './scenarios.ts';

/** Not an MQTT scenario: the embedded store's own BatchWrite ceiling, measured with a direct client. */
const CEILING = 'embedded-ceiling';

const HELP = `Usage: npm run bench -- [options]

Runs every scenario (or those named) one after the other, each with its own server process(es)
and its own load-generator process, and prints figures and ratios.

Options:
  --quick                   smoke run: 1 s warm-up, 2 s measured, 200 idle connections
  --scenarios a,b           only these (${SCENARIOS.map((s) => s.name).join(', ')}, ${CEILING})
  --connections N           publishing connections (default 200)
  --window W                QoS 1 PUBLISHes in flight per connection (default 20)
  --warmup S                seconds of load at least before measuring (default 3; quick 1)
  --warmup-readings N       and until the generator has N PUBACKs (the embedded store's
                            ceiling: N items stored), so that a slow scenario is measured with
                            its code compiled, as a fast one is after a few seconds: V8 compiles
                            a function after a number of calls, not of seconds (default 50000;
                            quick 0)
  --warmup-max S            but never longer than this (default 20)
  --duration S              seconds measured (default 10; quick 2)
  --idle-connections N      idle connections for RSS per connection (default 1000; quick 200; 0 = skip)
  --rate R                  paced phase: PUBLISHes/s over all connections, for latency below
                            saturation (default 500; 0 = skip)
  --paced S                 seconds measured in the paced phase (default 4; quick 2)
  --serve-args="..."        extra flags for iot-ingest serve (note the =), e.g.
                            --serve-args="--linger-ms 5 --write-concurrency 32"
  --repeat N                run everything N times, one run after the other, and end with each
                            target's median over the runs (with its lowest and highest value):
                            figures move 10-30 % from run to run on a shared machine (default 1)
  --out FILE                JSON results file (default bench/results/latest.json)
  --auth-storm              run only the authentication reconnect storm (bench/auth-storm.ts):
                            --storm-devices N (default 5000), --storm-concurrency C (default 256)
  -h, --help                this text`;

interface Options {
  readonly quick: boolean;
  readonly scenarios: readonly Scenario[];
  readonly connections: number;
  readonly window: number;
  readonly warmupS: number;
  readonly warmupReadings: number;
  readonly warmupMaxS: number;
  readonly durationS: number;
  readonly idleConnections: number;
  readonly rate: number;
  readonly pacedS: number;
  readonly serveArgs: readonly string[];
  readonly out: string;
  readonly repeat: number;
  readonly ceiling: boolean;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      connections: { type: 'string' },
      window: { type: 'string' },
      warmup: { type: 'string' },
      'warmup-readings': { type: 'string' },
      'warmup-max': { type: 'string' },
      duration: { type: 'string' },
      'idle-connections': { type: 'string' },
      rate: { type: 'string' },
      paced: { type: 'string' },
      'serve-args': { type: 'string' },
      out: { type: 'string' },
      repeat: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return undefined;
  }
  const quick = values.quick ?? false;
  const num = (raw: string | undefined, fallback: number, name: string, min = 0): number => {
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got ${raw}`);
    return n;
  };
  const names = values.scenarios?.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names?.filter((n) => n !== CEILING && !SCENARIOS.some((s) => s.name === n)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return {
    quick,
    scenarios: names ? SCENARIOS.filter((s) => names.includes(s.name)) : SCENARIOS,
    ceiling: names ? names.includes(CEILING) : true,
    connections: Math.floor(num(values.connections, 200, 'connections', 1)),
    window: Math.floor(num(values.window, 20, 'window', 1)),
    warmupS: num(values.warmup, quick ? 1 : 3, 'warmup'),
    warmupReadings: Math.floor(num(values['warmup-readings'], quick ? 0 : 50_000, 'warmup-readings')),
    warmupMaxS: num(values['warmup-max'], 20, 'warmup-max'),
    durationS: num(values.duration, quick ? 2 : 10, 'duration', 0.5),
    idleConnections: Math.floor(num(values['idle-connections'], quick ? 200 : 1000, 'idle-connections')),
    rate: num(values.rate, 500, 'rate'),
    pacedS: num(values.paced, quick ? 2 : 4, 'paced', 0.5),
    serveArgs: values['serve-args']?.split(/\s+/).filter(Boolean) ?? [],
    out: values.out ?? join(REPO_ROOT, 'bench', 'results', 'latest.json'),
    repeat: Math.floor(num(values.repeat, 1, 'repeat', 1)),
  };
}

const runStarted = performance.now();
function progress(scenario: string, text: string): void {
  const s = Math.round((performance.now() - runStarted) / 1000);
  process.stderr.write(`[bench ${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}] ${scenario}: ${text}\n`);
}

function assertAlive(target: Target): void {
  if (target.server.exited()) throw new Error(`${target.server.name} exited during the run:\n${target.server.output()}`);
  for (const b of target.backends) if (b.exited()) throw new Error(`${b.name} exited during the run:\n${b.output()}`);
}

function loadArgs(target: Target, connections: number, mode: 'load' | 'idle', opts: Options, prefix: string, rate = 0): string[] {
  return ['--port', String(target.mqttPort), '--connections', String(connections), '--window', String(opts.window), '--mode', mode, '--prefix', prefix, '--rate', String(rate)];
}

interface IdleFigures {
  readonly perConnectionKb: number;
  readonly connectCpuMs: number;
  /** Seconds until the service had written the idle devices' presence after they left. */
  readonly presenceDrainS: number;
}

/** The longest wait for the idle devices' presence writes before the saturation phase goes on. */
const PRESENCE_DRAIN_MAX_MS = 60_000;

/**
 * RSS of the server with N idle connections minus its RSS with none, per connection. Then, before
 * the next phase, waits until the service has written those devices' connects and disconnects to
 * its registry: left behind, the writes ran into the saturation phase beside the load (at the
 * embedded store's pace, about 2,000 of them for 1,000 devices, each through the SDK on the broker's
 * thread), and the scenario was measured with another phase's work in it.
 */
async function measureIdle(name: string, target: Target, opts: Options): Promise<IdleFigures> {
  if (opts.idleConnections === 0) return { perConnectionKb: NaN, connectCpuMs: NaN, presenceDrainS: NaN };
  await sleep(500);
  const pid = target.server.pid;
  const before = rssBytes(pid);
  const cpuBefore = cpuSeconds(pid);
  progress(name, `RSS phase: ${opts.idleConnections} idle connections`);
  const idle = forkBench('load-idle', './load.ts', loadArgs(target, opts.idleConnections, 'idle', opts, 'idle'));
  let figures: Omit<IdleFigures, 'presenceDrainS'>;
  try {
    await waitForMessage(idle.proc, 'connected', 60_000, 'idle connections');
    const connectCpuMs = ((cpuSeconds(pid) - cpuBefore) * 1000) / opts.idleConnections;
    await sleep(1000);
    const after = rssBytes(pid);
    assertAlive(target);
    figures = { perConnectionKb: (after - before) / 1024 / opts.idleConnections, connectCpuMs };
  } finally {
    await request(idle.proc, { type: 'stop' }, 'result', 'idle connections').catch(() => undefined);
    await idle.stop();
    await sleep(300);
  }
  const drainStarted = performance.now();
  const left = await untilNone(async () => (await target.counters()).presencePending ?? 0, drainStarted + PRESENCE_DRAIN_MAX_MS);
  const presenceDrainS = (performance.now() - drainStarted) / 1000;
  if (left > 0) progress(name, `presence of ${left} idle devices still unwritten after ${PRESENCE_DRAIN_MAX_MS / 1000} s; going on`);
  else if (presenceDrainS >= 0.5) progress(name, `presence of the idle devices written in ${presenceDrainS.toFixed(1)} s`);
  return { ...figures, presenceDrainS };
}

/** Long enough for cold SDK code paths (first requests are slow) not to leave a backlog. */
const PACED_WARMUP_S = 2;

/** PUBACK latency at a fixed offered rate every scenario can carry (not at saturation). */
async function measurePaced(name: string, target: Target, opts: Options): Promise<LoadResult | undefined> {
  if (opts.rate === 0) return undefined;
  const gen = forkBench('load-paced', './load.ts', loadArgs(target, opts.connections, 'load', opts, 'paced', opts.rate));
  try {
    await waitForMessage(gen.proc, 'connected', 60_000, 'paced load generator');
    progress(name, `paced phase: ${opts.rate} msg/s over ${opts.connections} connections, ${PACED_WARMUP_S} s warm-up + ${opts.pacedS} s`);
    gen.proc.send({ type: 'start' });
    await sleep(PACED_WARMUP_S * 1000);
    gen.proc.send({ type: 'measure' });
    await sleep(opts.pacedS * 1000);
    const { result } = await request(gen.proc, { type: 'stop' }, 'result', 'paced load generator');
    assertAlive(target);
    return result;
  } finally {
    await gen.stop();
    await sleep(500); // let the server finish what the generator left in flight
  }
}

function warmupText(opts: Options): string {
  return opts.warmupReadings > 0 ? `${opts.warmupS} s and ${opts.warmupReadings} PUBACKs (at most ${opts.warmupMaxS} s)` : `${opts.warmupS} s`;
}

async function sleepWithProgress(name: string, seconds: number, label: string, from = performance.now()): Promise<void> {
  const end = from + seconds * 1000;
  while (performance.now() < end) {
    const left = end - performance.now();
    await sleep(Math.min(left, 5000));
    if (performance.now() < end - 100) progress(name, `${label}, ${Math.ceil((end - performance.now()) / 1000)} s left`);
  }
}

type PacedFigures = 'paced_rate_per_s' | 'paced_acked_per_s' | 'paced_puback_p50_ms' | 'paced_puback_p99_ms' | 'paced_skipped';

/** Waits until the server's stored counter stops moving (what the last generator left in flight). */
async function quiesce(target: Target): Promise<void> {
  const deadline = performance.now() + 15_000;
  let last = (await target.counters()).stored;
  while (performance.now() < deadline) {
    await sleep(300);
    const now = (await target.counters()).stored;
    if (now === last) return;
    last = now;
  }
}

/** RSS phase, then saturation, then (everything warm, backlog drained) the paced phase. */
async function measure(scenario: Scenario, target: Target, opts: Options): Promise<ScenarioFigures> {
  const name = scenario.name;
  const idle = await measureIdle(name, target, opts);
  const saturated = await measureSaturation(scenario, target, opts, idle);
  await quiesce(target);
  const paced = await measurePaced(name, target, opts);
  return {
    ...saturated,
    paced_rate_per_s: paced ? opts.rate : null,
    paced_acked_per_s: paced ? round(paced.acked / paced.elapsedS, 0) : null,
    paced_puback_p50_ms: paced ? round(paced.p50Ms, 2) : null,
    paced_puback_p99_ms: paced ? round(paced.p99Ms, 2) : null,
    paced_skipped: paced ? paced.skipped : null,
  };
}

async function measureSaturation(
  scenario: Scenario,
  target: Target,
  opts: Options,
  idle: IdleFigures,
): Promise<Omit<ScenarioFigures, PacedFigures>> {
  const name = scenario.name;
  const rssBase = rssBytes(target.server.pid);

  const gen: Child = forkBench('load', './load.ts', loadArgs(target, opts.connections, 'load', opts, 'bench'));
  try {
    const connected = await waitForMessage(gen.proc, 'connected', 60_000, 'load generator');
    progress(name, `${connected.connections} connections up in ${Math.round(connected.ms)} ms; warm-up ${warmupText(opts)} (window ${opts.window})`);
    gen.proc.send({ type: 'start' });
    const warmupStarted = performance.now();
    await sleepWithProgress(name, opts.warmupS, 'warm-up');
    const acked = async (): Promise<number> => (await request(gen.proc, { type: 'acked' }, 'acked', 'load generator')).acked;
    const warmupAcked = await untilCount(acked, opts.warmupReadings, warmupStarted + opts.warmupMaxS * 1000);
    const warmupS = (performance.now() - warmupStarted) / 1000;
    if (warmupS > opts.warmupS + 1) progress(name, `warmed up: ${warmupAcked} PUBACKs in ${warmupS.toFixed(1)} s`);
    assertAlive(target);

    const backendPids = target.backends.map((b) => b.pid);
    const cpu0 = sampleCpu(target.server.pid, backendPids);
    const machine0 = machineBusySeconds();
    gen.proc.send({ type: 'measure' });
    const t0 = performance.now();
    progress(name, `measuring ${opts.durationS} s`);
    // A busy server may answer slowly: the measured window runs from t0 whatever it takes.
    const counters0 = await target.counters();
    await sleepWithProgress(name, opts.durationS, 'measuring', t0);
    const cpu1 = sampleCpu(target.server.pid, backendPids);
    const machine1 = machineBusySeconds();
    const t1 = performance.now();
    const rssLoaded = rssBytes(target.server.pid);
    const [{ result }, counters1] = await Promise.all([request(gen.proc, { type: 'stop' }, 'result', 'load generator'), target.counters()]);
    assertAlive(target);

    const wallS = (t1 - t0) / 1000;
    const ackedPerS = result.acked / result.elapsedS;
    const serverCores = (cpu1.serverS - cpu0.serverS) / wallS;
    const totalCores = (cpu1.totalS - cpu0.totalS) / wallS;
    const machineCores = (machine1 - machine0) / wallS;
    const storedDelta = counters1.stored !== undefined && counters0.stored !== undefined ? counters1.stored - counters0.stored : undefined;
    const requestsDelta = counters1.requests !== undefined && counters0.requests !== undefined ? counters1.requests - counters0.requests : undefined;
    const perMillion = (cores: number): number => (ackedPerS > 0 ? (cores / ackedPerS) * 1e6 : NaN);
    return {
      kind: 'scenario',
      scenario: name,
      ok: true,
      description: scenario.description,
      connections: result.connections,
      window: result.window,
      measured_s: round(result.elapsedS, 2),
      acked_per_s: round(ackedPerS, 0),
      stored_per_s: scenario.stores && storedDelta !== undefined ? round(storedDelta / ((counters1.at - counters0.at) / 1000), 0) : null,
      server_cpu_s_per_million: round(perMillion(serverCores), 2),
      total_cpu_s_per_million: round(perMillion(totalCores), 2),
      server_cpu_cores: round(serverCores, 3),
      total_cpu_cores: round(totalCores, 3),
      generator_cpu_cores: round(result.cpuCores, 3),
      machine_cpu_cores: round(machineCores, 3),
      other_cpu_cores: round(Math.max(0, machineCores - totalCores - result.cpuCores), 3),
      dynamodb_requests_per_reading: scenario.stores && storedDelta && requestsDelta !== undefined ? round(requestsDelta / storedDelta, 4) : null,
      puback_p50_ms: round(result.p50Ms, 2),
      puback_p90_ms: round(result.p90Ms, 2),
      puback_p99_ms: round(result.p99Ms, 2),
      puback_max_ms: round(result.maxMs, 2),
      idle_connections: opts.idleConnections,
      rss_per_connection_kb: round(idle.perConnectionKb, 2),
      rss_base_mb: round(rssBase / 1048576, 1),
      rss_loaded_mb: round(rssLoaded / 1048576, 1),
      connect_cpu_ms: round(idle.connectCpuMs, 3),
      presence_drain_s: round(idle.presenceDrainS, 1),
      disconnects: result.disconnects,
      eventloop_lag_p99_ms: counters1.eventLoopLagP99Ms === undefined ? null : round(counters1.eventLoopLagP99Ms, 1),
      warmup_s: round(warmupS, 1),
      warmup_acked: warmupAcked,
    };
  } finally {
    await gen.stop();
  }
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Number.isFinite(n) ? Math.round(n * f) / f : NaN;
}

function gitRevision(): string {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${rev}-dirty` : rev;
  } catch {
    return 'unknown';
  }
}

/** The embedded store's own BatchWrite ceiling: a direct client, pre-built requests, no broker. */
async function measureCeiling(dataDir: string, opts: Options): Promise<CeilingFigures | undefined> {
  mkdirSync(dataDir, { recursive: true });
  progress(CEILING, `measuring (warm-up ${warmupText(opts)} + ${opts.durationS} s)`);
  const child = forkBench(CEILING, './embedded-ceiling.ts', [dataDir, String(opts.warmupS), String(opts.durationS), '16', String(opts.warmupReadings), String(opts.warmupMaxS)]);
  try {
    const m = await waitForMessage(child.proc, 'ceiling', (Math.max(opts.warmupS, opts.warmupMaxS) + opts.durationS) * 1000 + 120_000, CEILING);
    const figures: CeilingFigures = { kind: 'ceiling', stored_per_s: round(m.storedPerS, 0), failed: m.failed, client_cpu_cores: round(m.clientCpuCores, 2), store_cpu_cores: round(m.storeCpuCores, 2), concurrency: m.concurrency, warmup_s: round(m.warmupS, 1) };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
    return figures;
  } catch (err) {
    progress(CEILING, `FAILED: ${(err as Error).message}`);
    return undefined;
  } finally {
    await child.stop();
  }
}

async function main(): Promise<number> {
  if (process.argv.includes('--auth-storm')) return (await import('./auth-storm.ts')).runAuthStormCli(process.argv.slice(2));
  let opts: Options | undefined;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\nRun "npm run bench -- --help" for the options.\n`);
    return 2;
  }
  if (!opts) return 0;
  const dataRoot = mkdtempSync(join(tmpdir(), 'iot-ingest-bench-'));
  installCleanup(() => rmSync(dataRoot, { recursive: true, force: true }));
  const meta = {
    kind: 'meta' as const,
    date: new Date().toISOString(),
    revision: gitRevision(),
    node: process.version,
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    quick: opts.quick,
    connections: opts.connections,
    window: opts.window,
    warmup_s: opts.warmupS,
    warmup_readings: opts.warmupReadings,
    warmup_max_s: opts.warmupMaxS,
    duration_s: opts.durationS,
    idle_connections: opts.idleConnections,
    paced_rate_per_s: opts.rate,
    paced_s: opts.pacedS,
    serve_args: opts.serveArgs,
  };
  progress('run', `${opts.scenarios.length} scenarios, ${opts.connections} connections x ${opts.window} in flight, warm-up ${warmupText(opts)} + ${opts.durationS} s measured each${opts.repeat > 1 ? `; ${opts.repeat} runs` : ''}`);
  const runs: RunFigures[] = [];
  try {
    for (let run = 1; run <= opts.repeat; run++) {
      const label = opts.repeat > 1 ? ` (run ${run} of ${opts.repeat})` : '';
      const figures = await runOnce(opts, join(dataRoot, `run-${run}`));
      runs.push(figures);
      const title =
        `iot-ingest bench ${meta.revision} · ${meta.date} · node ${meta.node} · ${meta.cpus} x ${meta.cpu_model}${label}\n` +
        `${opts.connections} connections x ${opts.window} QoS 1 in flight, warm-up ${warmupText(opts)} + ${opts.durationS} s measured; ` +
        `paced phase ${opts.rate} msg/s; RSS/conn from ${opts.idleConnections} idle connections${opts.quick ? ' (--quick: smoke figures only)' : ''}`;
      process.stdout.write(`${JSON.stringify({ kind: 'ratios', run, ratios: Object.fromEntries(figures.ratios.map((r) => [r.name, r.value === null ? null : round(r.value, 3)])) })}\n`);
      process.stdout.write(`${JSON.stringify({ kind: 'targets', run, targets: figures.targets })}\n`);
      process.stdout.write(`\n${title}\n\n${formatTable(figures.scenarios, figures.ratios)}\n\n${formatTargets(figures.targets, figures.ceiling)}\n`);
    }
  } finally {
    await stopAll();
    rmSync(dataRoot, { recursive: true, force: true });
  }
  const last = runs[runs.length - 1] as RunFigures;
  const median = runs.length > 1 ? medianTargets(runs.map((r) => r.targets)) : undefined;
  if (median) {
    process.stdout.write(`${JSON.stringify({ kind: 'median_targets', runs: runs.length, targets: median })}\n`);
    process.stdout.write(`\n${formatTargets(median, undefined, `Targets (issue #9), median of ${runs.length} runs (lowest-highest):`)}\n`);
  }
  mkdirSync(join(opts.out, '..'), { recursive: true });
  // The last run's figures at the top (as for a single run), every run's beside them.
  writeFileSync(opts.out, `${JSON.stringify({ meta, scenarios: last.scenarios, ratios: last.ratios, ceiling: last.ceiling, targets: last.targets, ...(median ? { runs, median_targets: median } : {}) }, null, 2)}\n`);
  progress('run', `done; JSON written to ${opts.out}`);
  return runs.every((r) => r.scenarios.every((x) => x.ok)) ? 0 : 1;
}

interface RunFigures {
  readonly scenarios: ScenarioResult[];
  readonly ratios: ReturnType<typeof computeRatios>;
  readonly ceiling: CeilingFigures | undefined;
  readonly targets: ReturnType<typeof computeTargets>;
}

/**
 * Every selected scenario once, one after the other, and the embedded store's ceiling right after
 * pipeline-embedded (else last): the two figures of one ratio are taken as close together as the
 * run allows, since this machine's speed drifts over minutes.
 */
async function runOnce(opts: Options, dataRoot: string): Promise<RunFigures> {
  const results: ScenarioResult[] = [];
  let ceiling: CeilingFigures | undefined;
  const measureCeilingHere = (): Promise<CeilingFigures | undefined> => measureCeiling(join(dataRoot, CEILING), opts);
  const ceilingAfterEmbedded = opts.scenarios.some((s) => s.name === 'pipeline-embedded');
  for (const scenario of opts.scenarios) {
    const dataDir = join(dataRoot, scenario.name);
    mkdirSync(dataDir, { recursive: true });
    progress(scenario.name, 'starting');
    let target: Target | undefined;
    try {
      target = await scenario.start({ dataDir, serveArgs: opts.serveArgs });
      progress(scenario.name, `ready (server pid ${target.server.pid}, MQTT port ${target.mqttPort})`);
      const figures = await measure(scenario, target, opts);
      results.push(figures);
      process.stdout.write(`${JSON.stringify(figures)}\n`);
    } catch (err) {
      const failure = { kind: 'scenario' as const, scenario: scenario.name, ok: false as const, error: (err as Error).message };
      results.push(failure);
      process.stdout.write(`${JSON.stringify(failure)}\n`);
      progress(scenario.name, `FAILED: ${(err as Error).message}`);
    } finally {
      progress(scenario.name, 'stopping');
      await target?.stop();
      await stopAll(); // anything of this scenario still running
    }
    if (opts.ceiling && scenario.name === 'pipeline-embedded') ceiling = await measureCeilingHere();
  }
  if (opts.ceiling && !ceilingAfterEmbedded) ceiling = await measureCeilingHere();
  return { scenarios: results, ratios: computeRatios(results), ceiling, targets: computeTargets(results, ceiling) };
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  await stopAll();
  process.exitCode = 1;
}
