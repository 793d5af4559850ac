// `npm run bench:scale`: the scale-out figures, in one run on one machine.
//  1. The pipeline with --workers 1 and --workers 2 side by side, into the do-nothing DynamoDB-API
//     endpoint (bench/null-dynamo.ts), driven by the raw-socket generator (bench/load.ts):
//     readings/s stored, service CPU per reading (primary + workers, all threads), scaling ratio.
//  2. Idle connections: N connections (default 10,000, bench/idle-connections.ts) held open against
//     bare aedes (bench/aedes-raw.ts) and against the service (--workers 1): RSS per connection.
//     Each side is its own process; the fd limit must exceed N (`ulimit -n`; 20,000 here).
// The generator runs on the same machine: on 2 cores it competes with the workers for CPU, which
// caps what a second worker can add. Prints JSON lines and a table; writes bench/results/scale.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { REPO_ROOT, forkBench, installCleanup, spawnCli, stopAll } from './children.ts';
import type { Child } from './children.ts';
import { request, waitForMessage } from './ipc.ts';
import { cpuSeconds, descendants, rssBytes } from './procfs.ts';
import { metricSum } from './scenarios.ts';
import { BENCH_LIMIT_FLAGS } from './limit-flags.ts';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '200' },
    window: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    'idle-connections': { type: 'string', default: '10000' }, // 0 = skip the idle scenario
    quick: { type: 'boolean', default: false },
  },
});
const QUICK = values.quick ?? false;
const CONNECTIONS = Number(values.connections);
const WINDOW = Number(values.window);
const WARMUP_S = QUICK ? 1 : Number(values.warmup);
const DURATION_S = QUICK ? 2 : Number(values.duration);
const IDLE = QUICK ? 500 : Number(values['idle-connections']);

interface ThroughputFigures {
  readonly scenario: string;
  readonly workers: number;
  readonly readingsPerS: number;
  readonly cpuUsPerReading: number;
  readonly serviceCores: number;
  readonly generatorCores: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

interface IdleFigures {
  readonly scenario: string;
  readonly connections: number;
  readonly rssPerConnectionKiB: number;
  readonly connectS: number;
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function treeCpuS(root: number): number {
  return [root, ...descendants(root)].reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

async function startService(workers: number, nullPort: number): Promise<{ child: Child; mqttPort: number; httpUrl: string }> {
  const mqttPort = await findFreePort();
  const httpPort = await findFreePort();
  const child = spawnCli(`serve-w${workers}`, [
    'serve', '--workers', String(workers), '--mqtt-host', '127.0.0.1', '--mqtt-port', String(mqttPort), '--http-host', '127.0.0.1',
    '--http-port', String(httpPort), '--dynamodb-endpoint', `http://127.0.0.1:${nullPort}`, '--table', 'bench', '--dlq-table', 'bench_dlq', '--log-level', 'warn',
    ...BENCH_LIMIT_FLAGS,
  ], () => {});
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exited()) throw new Error(`serve --workers ${workers} exited:\n${child.output()}`);
    const ok = await fetch(`${httpUrl}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`serve --workers ${workers} not ready:\n${child.output()}`);
    await sleep(200);
  }
  return { child, mqttPort, httpUrl };
}

async function stored(httpUrl: string): Promise<number> {
  return metricSum(await (await fetch(`${httpUrl}/metrics`)).text(), 'iot_ingest_readings_stored_total') ?? 0;
}

async function throughput(workers: number, nullPort: number): Promise<ThroughputFigures> {
  const svc = await startService(workers, nullPort);
  const load = forkBench('load', './load.ts', ['--port', String(svc.mqttPort), '--connections', String(CONNECTIONS), '--window', String(WINDOW), '--prefix', `w${workers}`]);
  await waitForMessage(load.proc, 'connected', 60_000, 'load');
  load.proc.send({ type: 'start' });
  await sleep(WARMUP_S * 1000);
  load.proc.send({ type: 'measure' });
  const [s0, c0, t0] = [await stored(svc.httpUrl), treeCpuS(svc.child.pid), performance.now()];
  await sleep(DURATION_S * 1000);
  const [s1, c1, t1] = [await stored(svc.httpUrl), treeCpuS(svc.child.pid), performance.now()];
  const { result } = await request(load.proc, { type: 'stop' }, 'result', 'load', 30_000);
  await load.stop();
  await svc.child.stop();
  const elapsedS = (t1 - t0) / 1000;
  const readings = s1 - s0;
  return {
    scenario: `pipeline-null-workers-${workers}`,
    workers,
    readingsPerS: Math.round(readings / elapsedS),
    cpuUsPerReading: readings > 0 ? Math.round(((c1 - c0) / readings) * 1e6 * 10) / 10 : NaN,
    serviceCores: Math.round(((c1 - c0) / elapsedS) * 100) / 100,
    generatorCores: Math.round(result.cpuCores * 100) / 100,
    p50Ms: Math.round(result.p50Ms * 10) / 10,
    p99Ms: Math.round(result.p99Ms * 10) / 10,
  };
}

async function idle(name: string, pid: number, port: number): Promise<IdleFigures> {
  await sleep(1_000);
  const before = rssBytes(pid);
  const started = performance.now();
  const load = forkBench('idle', './idle-connections.ts', ['--port', String(port), '--connections', String(IDLE), '--prefix', name]);
  await waitForMessage(load.proc, 'connected', 600_000, `idle ${name}`);
  const connectS = (performance.now() - started) / 1000;
  await sleep(3_000); // let allocation settle
  const after = rssBytes(pid);
  await load.stop();
  return { scenario: `idle-${name}`, connections: IDLE, rssPerConnectionKiB: Math.round(((after - before) / IDLE / 1024) * 10) / 10, connectS: Math.round(connectS * 10) / 10 };
}

async function main(): Promise<void> {
  installCleanup();
  process.stderr.write(`bench:scale on ${availableParallelism()} cores; ${CONNECTIONS} connections x window ${WINDOW}; ${WARMUP_S}s warm-up, ${DURATION_S}s measured; ${IDLE} idle connections\n`);
  const nullDynamo = forkBench('null-dynamo', './null-dynamo.ts', []);
  const { port: nullPort } = await waitForMessage(nullDynamo.proc, 'ready', 20_000, 'null-dynamo');
  const results: Array<ThroughputFigures | IdleFigures> = [];
  const emit = (r: ThroughputFigures | IdleFigures): void => {
    results.push(r);
    process.stdout.write(`${JSON.stringify(r)}\n`);
  };
  const w1 = await throughput(1, nullPort);
  emit(w1);
  const w2 = await throughput(2, nullPort);
  emit(w2);

  if (IDLE > 0) {
    const raw = forkBench('aedes-raw', './aedes-raw.ts', []);
    const { port: rawPort } = await waitForMessage(raw.proc, 'ready', 20_000, 'aedes-raw');
    emit(await idle('aedes-raw', raw.pid, rawPort));
    await raw.stop();
    const svc = await startService(1, nullPort);
    emit(await idle('service', svc.child.pid, svc.mqttPort));
    await svc.child.stop();
  }
  await stopAll();

  const machineLoad = (await import('node:os')).loadavg()[0];
  process.stdout.write(`${JSON.stringify({ loadAverage1m: machineLoad })}\n`);
  const scaling = w1.readingsPerS > 0 ? Math.round((w2.readingsPerS / w1.readingsPerS) * 100) / 100 : NaN;
  process.stdout.write(`${JSON.stringify({ ratio: 'workers2_over_workers1_readings_per_s', value: scaling })}\n`);
  const lines = [
    '',
    'scenario                      readings/s  CPU µs/reading  service cores  generator cores  p50 ms  p99 ms',
    ...[w1, w2].map((r) => `${r.scenario.padEnd(30)}${String(r.readingsPerS).padStart(10)}${String(r.cpuUsPerReading).padStart(16)}${String(r.serviceCores).padStart(15)}${String(r.generatorCores).padStart(17)}${r.p50Ms.toFixed(1).padStart(8)}${r.p99Ms.toFixed(1).padStart(8)}`),
    `scaling --workers 2 / --workers 1: ${scaling}x`,
    '',
    'scenario                      connections  RSS KiB/connection  connect s',
    ...results.filter((r): r is IdleFigures => 'rssPerConnectionKiB' in r).map((r) => `${r.scenario.padEnd(30)}${String(r.connections).padStart(11)}${String(r.rssPerConnectionKiB).padStart(20)}${String(r.connectS).padStart(11)}`),
    '',
  ];
  process.stderr.write(lines.join('\n'));
  mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(REPO_ROOT, 'bench/results/scale.json'), `${JSON.stringify({ cores: availableParallelism(), results, scaling }, null, 2)}\n`);
}

await main();
