// `node --import tsx bench/thread-cpu.ts [--root DIR] [--seconds S] [--node-args "FLAGS"]`: CPU per stored reading of
// each thread of `iot-ingest serve`, read from /proc (utime + stime of every task) at the start and
// end of a load window, with no profiler attached. bench/profile.ts says where the time goes, but
// its sampling costs CPU itself and, on a shared machine, charges a descheduled thread's wait to the
// function it was in (a socket write that wakes the peer shows as `writev`); these figures are
// what each thread really spent, to compare revisions with `--root` (same generator and do-nothing
// endpoint as the profile). Linux only; clock-tick resolution (10 ms), so use a few seconds of load.
// --embedded: the service over its own embedded dynalite (data in a fresh temporary directory), at
// the store's pace; the figures are still the service's threads only, and one line more says how
// much of each second the store process's main thread (and all its threads) spent on a core and
// how much runnable but waiting for one (/proc/<pid>/task/<tid>/schedstat).
// --idle N: first connect N idle devices and disconnect them, as `npm run bench`'s RSS phase does
// before each scenario's load, and wait until the service has written their presence (connect and
// disconnect) to the registry; with --keep-backlog the load starts at once, and those writes run
// during it (as the bench's saturation phase ran before the tenth round).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, forkBench, stopAll } from './children.ts';
import { request, waitForMessage } from './ipc.ts';
import { untilNone } from './warmup.ts';
import { benchStoreArgs, startServe } from './serve-process.ts';
import { syscalls } from './procfs.ts';
import { metricSum } from './scenarios.ts';

const { values } = parseArgs({ options: { embedded: { type: 'boolean', default: false }, root: { type: 'string' }, seconds: { type: 'string', default: '8' }, idle: { type: 'string', default: '0' }, 'keep-backlog': { type: 'boolean', default: false }, 'node-args': { type: 'string', default: '' } } });
const root = resolve(values.root ?? REPO_ROOT);
const seconds = Number(values.seconds);
const TICK_US = 10_000;
/** The writer thread starts with the first request: the window opens after the generator's ramp. */
const RAMP_MS = 1_500;

/** CPU µs so far of every thread of `pid`, by "tid name". */
function threadCpuUs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    out.set(`${tid} ${name}`, (Number(fields[11]) + Number(fields[12])) * TICK_US);
  }
  return out;
}

/** On-CPU and run-queue wait (ns so far) of every thread of `pid`, from /proc/<pid>/task/<tid>/schedstat. */
function schedstat(pid: number): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const [onCpu, waiting] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      out.set(tid, [onCpu as number, waiting as number]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** The embedded store's process: the service's first child (with --embedded; undefined if it has none). */
function storePid(pid: number): number | undefined {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
  return children[0];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const dataDir = values.embedded ? mkdtempSync(join(tmpdir(), 'iot-ingest-thread-cpu-')) : undefined;
try {
  const { serve, ...ports } = await startServe(root, values['node-args'].split(' ').filter(Boolean), await benchStoreArgs(dataDir));
  const pid = serve.pid as number;
  const metric = async (name: string): Promise<number> => metricSum(await (await fetch(`http://127.0.0.1:${ports.httpPort}/metrics`)).text(), name) ?? 0;
  const stored = (): Promise<number> => metric('iot_ingest_readings_stored_total');
  const idle = Number(values.idle);
  if (idle > 0) {
    const devices = forkBench('load-idle', './load.ts', ['--port', String(ports.mqttPort), '--connections', String(idle), '--mode', 'idle', '--prefix', 'idle']);
    await waitForMessage(devices.proc, 'connected', 60_000, 'idle connections');
    await request(devices.proc, { type: 'stop' }, 'result', 'idle connections').catch(() => undefined);
    await devices.stop();
    if (!values['keep-backlog']) {
      const t0 = performance.now();
      await sleep(500); // the broker sees the disconnects
      const left = await untilNone(() => metric('iot_ingest_presence_pending_devices'), t0 + 60_000);
      process.stderr.write(`presence of the ${idle} idle devices written in ${((performance.now() - t0) / 1000).toFixed(1)} s (${left} devices left)\n`);
    }
  }
  const load = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/load.ts'), '--port', String(ports.mqttPort), '--seconds', String(seconds + 2 * RAMP_MS / 1000)], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const loadDone = new Promise((r) => load.once('exit', r));
  await sleep(RAMP_MS);
  const store = values.embedded ? storePid(pid) : undefined;
  const [storedBefore, cpuBefore, ioBefore, storeBefore] = [await stored(), threadCpuUs(pid), syscalls(pid), store === undefined ? undefined : schedstat(store)];
  await sleep(seconds * 1000);
  const [storedAfter, cpuAfter, ioAfter, storeAfter] = [await stored(), threadCpuUs(pid), syscalls(pid), store === undefined ? undefined : schedstat(store)];
  await loadDone;
  serve.kill('SIGTERM');
  await new Promise((r) => serve.once('exit', r));
  const readings = storedAfter - storedBefore;
  // Thread ids grow in start order: the main thread is the process id, the writer thread the
  // busiest one started after it; V8's and libuv's helpers make up the rest.
  const rows = [...cpuAfter].map(([thread, us]) => ({ thread, perReading: (us - (cpuBefore.get(thread) ?? 0)) / Math.max(1, readings) })).filter((r) => r.perReading >= 0.05).sort((a, b) => b.perReading - a.perReading);
  const total = rows.reduce((a, r) => a + r.perReading, 0);
  process.stdout.write(`${root} · ${new Date().toISOString()} · ${readings} readings in ${seconds} s (${(readings / seconds / 1000).toFixed(1)} k/s) · load average ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}\n`);
  const per = (n: number): string => (n / Math.max(1, readings)).toFixed(3);
  process.stdout.write(`read / write system calls per reading: ${per(ioAfter.reads - ioBefore.reads)} / ${per(ioAfter.writes - ioBefore.writes)}\n`);
  if (store !== undefined && storeBefore && storeAfter) {
    // Per second of the window: ms on a core and ms runnable but waiting for one, main thread and all.
    const perS = (ns: number): string => (ns / 1e6 / seconds).toFixed(0);
    const delta = (tid: string, i: 0 | 1): number => (storeAfter.get(tid)?.[i] ?? 0) - (storeBefore.get(tid)?.[i] ?? 0);
    const all = (i: 0 | 1): number => [...storeAfter.keys()].reduce((a, t) => a + delta(t, i), 0);
    process.stdout.write(`store process ${store}, ms per s on a core / waiting for one: main thread ${perS(delta(String(store), 0))} / ${perS(delta(String(store), 1))}, all threads ${perS(all(0))} / ${perS(all(1))}\n`);
  }
  process.stdout.write(`µs CPU per reading by thread: ${rows.map((r) => `${r.thread}${r.thread.startsWith(`${pid} `) ? ' (main)' : ''}=${r.perReading.toFixed(2)}`).join('  ')}  · all ${total.toFixed(2)}\n`);
} finally {
  await stopAll();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
}
