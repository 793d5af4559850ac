// `node --import tsx bench/profile.ts [--root DIR] [--seconds S] [--out DIR]`: CPU profile of the
// service under the bench's saturating load, per component, in µs of CPU per stored reading.
// Starts the do-nothing DynamoDB endpoint, runs `iot-ingest serve` from --root (default: this
// checkout; point it at another checkout to profile that revision) with `--cpu-prof` (one profile
// per thread: the broker's main thread and the writer thread), drives it with the raw-socket
// generator for --seconds, reads the stored counter, stops it with SIGTERM (profiles are written at
// exit) and sums each profile's self time by component over the load window only (start-up, with
// its TypeScript compilation, the first 3 s of load with the connects and their presence writes,
// and the shutdown drain are left out), divided by the readings stored in that window. --embedded
// profiles the service over its embedded dynalite instead. --alloc samples the main thread's
// allocations instead of CPU (bench/alloc-sampler.mjs) and prints bytes allocated per reading by
// component: a figure that does not move with the machine's load.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, stopAll } from './children.ts';
import { metricSum } from './scenarios.ts';
import { benchStoreArgs, startServe } from './serve-process.ts';

const { values } = parseArgs({ options: { alloc: { type: 'boolean', default: false }, embedded: { type: 'boolean', default: false }, root: { type: 'string' }, seconds: { type: 'string', default: '10' }, out: { type: 'string', default: join(REPO_ROOT, 'bench/results/profile') } } });
const root = resolve(values.root ?? REPO_ROOT);
/** Seconds of load before the window opens: 200 connects, and their presence writes through the SDK. */
const RAMP_S = 3;
const out = resolve(values.out ?? '');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
}
interface CpuProfile {
  readonly startTime: number;
  readonly endTime: number;
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
}

const COMPONENTS: [string, (url: string, fn: string) => boolean][] = [
  ['GC', (_u, f) => f === '(garbage collector)'],
  ['idle', (_u, f) => f === '(idle)'],
  ['(program: native, JIT)', (_u, f) => f === '(program)'],
  ['aedes (+ packet, persistence, mqemitter)', (u) => /node_modules\/(aedes|mqemitter|fastfall|fastparallel|fastseries|reusify|retimer|hyperid)/.test(u)],
  ['mqtt-packet (parse, PUBACK writes)', (u) => /node_modules\/(mqtt-packet|bl|process-nextick|readable-stream)/.test(u)],
  ['decode (JSON, syntax check, validation)', (u) => /src\/ingest\/(decode|flat-decode|reading-rules|exact-numbers|json-syntax)/.test(u)],
  ['publish hook', (u) => /src\/broker\/publish-hook/.test(u)],
  ['connection guard, packet framer', (u) => /src\/broker\/(listeners\/connection-guard|limits\/packet-framer)/.test(u)],
  ['rate step (token buckets)', (u) => /src\/broker\/limits\/(rate-step|device-rate)/.test(u)],
  ['identity, ACL', (u) => /src\/broker\/(acl|identity|auth|topic)/.test(u)],
  ['presence (seen, stored)', (u) => /src\/presence\//.test(u)],
  ['live tap', (u) => /src\/live\//.test(u)],
  ['broker (other)', (u) => /src\/broker\//.test(u)],
  ['batcher (gate, tickets, batcher)', (u) => /src\/ingest\/(batcher|admission|tickets|concurrency)/.test(u)],
  ['item building / wire encoding', (u) => /src\/storage\/(item|dynamodb\/wire)/.test(u)],
  ['sink / writer (retries, result)', (u) => /src\/(storage\/dynamodb\/sink|ingest\/writer|retry)/.test(u)],
  ['store transport (our HTTP, worker glue)', (u) => /src\/storage\/(dynamodb\/(transport|http-transport)|worker-store|store-worker|telemetry-store)/.test(u)],
  ['SigV4 (@smithy/signature-v4)', (u) => /signature-v4/.test(u)],
  ['AWS SDK (client, middleware, serde)', (u) => /node_modules\/(@aws-sdk|@smithy|@aws-crypto|fast-xml|bowser|tslib)/.test(u)],
  ['prom-client', (u) => /prom-client/.test(u)],
  ['p-limit / yocto-queue', (u) => /p-limit|yocto-queue/.test(u)],
  ['pino (logs)', (u) => /pino|sonic-boom/.test(u)],
  ['node: net, http, streams', (u) => /^node:(net|http|_http|stream|internal\/(stream|net|http|streams|js_stream))|node:internal\/(stream_base|streams|net|http)/.test(u) || /internal\/(streams|stream_base_commons|net|http)/.test(u)],
  ['node: worker messaging, structured clone', (u) => /worker|messageport|per_context\/messageport/.test(u)],
  ['node: timers, promises, microtasks', (u) => /internal\/(timers|process\/task_queues|process\/promises|async_hooks)/.test(u)],
  ['V8 builtins (JSON, Map, Array, String...)', (u) => u === ''],
];

/** Self time by component of the samples taken between `from` and `to` (the profiles' clock, µs). */
function summarise(profile: CpuProfile, from: number, to: number): Map<string, number> {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (t < from || t > to) continue;
    const id = profile.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  const out = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { url, functionName } = (byId.get(id) as ProfileNode).callFrame;
    const hit = COMPONENTS.find(([, test]) => test(url, functionName));
    const name = hit?.[0] ?? 'other JS';
    out.set(name, (out.get(name) ?? 0) + us);
  }
  return out;
}

interface HeapNode {
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly selfSize: number;
  readonly children: HeapNode[];
}
interface HeapProfile {
  readonly head: HeapNode;
}

/** Bytes allocated on the main thread per stored reading, by component and by allocation site. */
function printAllocations(profile: HeapProfile, stored: number, root: string, windowMs: number): void {
  const byComponent = new Map<string, number>();
  const bySite = new Map<string, number>();
  const walk = (n: HeapNode): void => {
    if (n.selfSize > 0) {
      const { url, functionName } = n.callFrame;
      const name = COMPONENTS.find(([, test]) => test(url, functionName))?.[0] ?? 'other JS';
      byComponent.set(name, (byComponent.get(name) ?? 0) + n.selfSize);
      const site = `${functionName || '(anonymous)'} ${url.replace(/.*node_modules\//, '').replace(/.*\/(src|dist)\//, '$1/')}`;
      bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  const total = [...byComponent.values()].reduce((a, b) => a + b, 0);
  process.stdout.write(`allocations of ${root} (main thread) · ${stored} readings stored in the ${(windowMs / 1000).toFixed(1)} s load window · ${Math.round(total / stored)} bytes allocated per reading\n\n| component | bytes per reading |\n|---|---:|\n`);
  for (const [name, bytes] of [...byComponent].sort((a, b) => b[1] - a[1])) process.stdout.write(`| ${name} | ${Math.round(bytes / stored)} |\n`);
  process.stdout.write('\nlargest allocation sites (bytes per reading):\n');
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 15)) process.stdout.write(`${String(Math.round(bytes / stored)).padStart(7)}  ${site}\n`);
}

try {
  // --embedded: the service's own embedded dynalite (data in a fresh directory) instead of the do-nothing endpoint.
  const store = await benchStoreArgs(values.embedded ? join(out, 'data') : undefined);
  const allocFile = join(out, 'alloc.heapprofile');
  const profiler = values.alloc ? ['--import', join(REPO_ROOT, 'bench/alloc-sampler.mjs')] : ['--cpu-prof', `--cpu-prof-dir=${out}`];
  const spawnedAt = performance.now();
  const { serve, ...ports } = await startServe(root, profiler, store, { IOT_INGEST_ALLOC_PROFILE: allocFile });
  const seconds = Number(values.seconds);
  const storedAt = async (): Promise<{ stored: number; requests: number }> => {
    const text = await (await fetch(`http://127.0.0.1:${ports.httpPort}/metrics`)).text();
    return { stored: metricSum(text, 'iot_ingest_readings_stored_total') ?? 0, requests: metricSum(text, 'iot_ingest_batch_size_readings_count') ?? 0 };
  };
  const load = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/load.ts'), '--port', String(ports.mqttPort), '--seconds', String(seconds + RAMP_S)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let loadOut = '';
  load.stdout.on('data', (c: Buffer) => (loadOut += c.toString()));
  const loadExited = new Promise((r) => load.once('exit', r));
  // The window opens after the ramp: the connects (and the presence writes they cause) are left out.
  await new Promise((r) => setTimeout(r, RAMP_S * 1000));
  const before = await storedAt();
  const loadStart = performance.now();
  if (values.alloc) serve.kill('SIGUSR2');
  await loadExited;
  const loadEnd = performance.now();
  const after = await storedAt();
  if (values.alloc) {
    serve.kill('SIGUSR2');
    for (let i = 0; i < 100 && !existsSync(allocFile); i++) await new Promise((r) => setTimeout(r, 100));
  }
  serve.kill('SIGTERM');
  await new Promise((r) => serve.once('exit', r));
  const stored = after.stored - before.stored;
  const requests = after.requests - before.requests;
  await stopAll(); // the do-nothing endpoint, if any: before the analysis (and the alloc path's exit)
  if (values.alloc) {
    printAllocations(JSON.parse(readFileSync(allocFile, 'utf8')) as HeapProfile, stored, root, loadEnd - loadStart);
    process.exit(0);
  }
  const files = readdirSync(out).filter((f) => f.endsWith('.cpuprofile')).sort();
  process.stdout.write(`profile of ${root} · ${new Date().toISOString()} · ${stored} readings stored in the ${((loadEnd - loadStart) / 1000).toFixed(1)} s load window, ${(stored / Math.max(1, requests)).toFixed(1)} per request · generator: ${loadOut.trim().slice(0, 200)}\n`);
  const profiles = files.map((f) => ({ file: f, profile: JSON.parse(readFileSync(join(out, f), 'utf8')) as CpuProfile }));
  // The threads' profiles share one clock; the main thread's starts with the process, a moment after
  // the spawn. (Placed back from the profile's end, the window would land early: the process exits
  // after its profiles end, by the time they take to write.)
  const origin = (profiles.find((p) => p.file.split('.')[4] === '0') ?? profiles[0])?.profile.startTime ?? 0;
  const perThread = profiles.map(({ file, profile }) => ({ file, parts: summarise(profile, origin + (loadStart - spawnedAt) * 1000, origin + (loadEnd - spawnedAt) * 1000) }));
  const names = [...new Set(perThread.flatMap((t) => [...t.parts.keys()]))];
  const busy = (t: { parts: Map<string, number> }): number => [...t.parts].filter(([k]) => k !== 'idle').reduce((a, [, v]) => a + v, 0);
  // File names carry the thread id: CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile (tid 0 = main thread).
  const label = (f: string): string => (f.split('.')[4] === '0' ? 'main' : `thread ${f.split('.')[4]}`);
  const all = (name: string): number => perThread.reduce((a, t) => a + (t.parts.get(name) ?? 0), 0);
  process.stdout.write(`\n| component (µs CPU per reading) | ${perThread.map((t) => label(t.file)).join(' | ')} | all threads |\n|---|${perThread.map(() => '---:').join('|')}|---:|\n`);
  for (const name of names.filter((n) => n !== 'idle').sort((a, b) => all(b) - all(a))) {
    process.stdout.write(`| ${name} | ${perThread.map((t) => ((t.parts.get(name) ?? 0) / stored).toFixed(2)).join(' | ')} | ${(all(name) / stored).toFixed(2)} |\n`);
  }
  process.stdout.write(`| **busy total** | ${perThread.map((t) => (busy(t) / stored).toFixed(2)).join(' | ')} | ${(perThread.reduce((a, t) => a + busy(t), 0) / stored).toFixed(2)} |\n`);
  process.stdout.write(`(threads: ${files.join(', ')})\n`);
} finally {
  await stopAll();
}
