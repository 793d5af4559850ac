// Real servers for the scale-out tests, started by the test on free loopback ports: Debian's
// redis-server (no persistence) and haproxy (a config generated like deploy/haproxy/haproxy.cfg,
// pointed at the replicas the test runs).
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort, waitFor } from './dynamo-servers.ts';

export interface Proc {
  readonly proc: ChildProcess;
  output(): string;
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

export function hasBinary(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

function run(cmd: string, args: string[]): Proc {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  let done = false;
  void exited.then(() => (done = true));
  return {
    proc,
    output: () => out,
    exited,
    stop: async (graceMs = 5_000) => {
      if (done) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function tcpReachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface RedisServer extends Proc {
  readonly port: number;
  readonly url: string;
}

/** redis-server on a free port, nothing saved to disk. */
export async function startRedis(port?: number): Promise<RedisServer> {
  const p = port ?? (await findFreePort());
  const dir = mkdtempSync(join(tmpdir(), 'iot-redis-'));
  const proc = run('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
  await waitFor(async () => ((await tcpReachable(p)) ? true : undefined), { timeoutMs: 10_000, message: 'redis-server did not start' });
  return { ...proc, port: p, url: `redis://127.0.0.1:${p}` };
}

export interface BackendServer {
  readonly name: string;
  readonly mqttPort: number;
  readonly httpPort: number;
}

/** The repo's HAProxy setup (deploy/haproxy/haproxy.cfg) with loopback addresses and the test's ports. */
export function haproxyConfig(o: { port: number; statsPort: number; servers: readonly BackendServer[] }): string {
  return [
    'global',
    '  maxconn 4000',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 120s',
    '  timeout server 120s',
    '  retries 3',
    '  option redispatch',
    'frontend mqtt',
    `  bind 127.0.0.1:${o.port}`,
    '  default_backend replicas',
    'backend replicas',
    '  balance leastconn',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    '  default-server inter 300ms fall 2 rise 2 send-proxy-v2 on-marked-down shutdown-sessions',
    ...o.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.mqttPort} check port ${s.httpPort}`),
    'frontend stats',
    '  mode http',
    `  bind 127.0.0.1:${o.statsPort}`,
    '  stats enable',
    '  stats uri /stats',
    '',
  ].join('\n');
}

export interface Haproxy extends Proc {
  readonly port: number;
  readonly statsPort: number;
  /** Server name -> status (UP, DOWN, ...) from the stats CSV. */
  status(): Promise<Record<string, string>>;
}

export async function startHaproxy(servers: readonly BackendServer[]): Promise<Haproxy> {
  const port = await findFreePort();
  const statsPort = await findFreePort();
  const dir = mkdtempSync(join(tmpdir(), 'iot-haproxy-'));
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, haproxyConfig({ port, statsPort, servers }));
  const check = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy rejected the generated config:\n${check.stdout}${check.stderr}`);
  const proc = run('haproxy', ['-db', '-f', file]);
  await waitFor(async () => ((await tcpReachable(port)) ? true : undefined), { timeoutMs: 10_000, message: `haproxy did not start:\n${proc.output()}` });
  const status = async (): Promise<Record<string, string>> => {
    const csv = await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).text();
    const out: Record<string, string> = {};
    for (const line of csv.split('\n')) {
      const cols = line.split(',');
      if (cols[0] === 'replicas' && cols[1] && cols[1] !== 'BACKEND') out[cols[1]] = cols[17] ?? '';
    }
    return out;
  };
  return { ...proc, port, statsPort, status };
}
