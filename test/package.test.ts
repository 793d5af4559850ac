// The package as users get it: `npm pack` (which builds dist/ through the prepare script) ships the
// compiled code, docs, dashboards, alert rules and LICENSE, and no tests or TypeScript sources; the
// tarball installed into an empty folder runs the service with plain node (no tsx, no esbuild in
// the process tree or in node_modules) on its embedded DynamoDB-API server and stores a reading.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/dynamo-servers.ts';
import { REPO_ROOT } from './helpers/service.ts';

const tmp = mkdtempSync(join(tmpdir(), 'iot-ingest-pack-'));
const children: ReturnType<typeof spawn>[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

function npm(args: string[], cwd: string): string {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 150_000, env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** A process and all its descendants (Linux /proc), parents first. */
function processPids(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // the process ended meanwhile
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parentOf) if (ppid === tree[i]) tree.push(pid);
  return tree;
}

/** Command lines of a process and all its descendants, parents first. */
function processTree(root: number): string[] {
  return processPids(root).map((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      return '';
    }
  });
}

describe('the npm package', () => {
  let tarball = '';

  it('npm pack ships dist/, bin, docs, dashboards, alert rules, README and LICENSE, and no tests or sources', () => {
    const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', tmp], REPO_ROOT)) as { filename: string; files: { path: string }[] }[];
    tarball = join(tmp, packed?.filename as string);
    const files = (packed?.files ?? []).map((f) => f.path);
    for (const f of ['LICENSE', 'README.md', 'package.json', 'bin/iot-ingest.js', 'dist/src/main.js', 'dist/src/cli/registry.js',
      'dist/simulator/cli.js', 'dist/src/storage/embedded-server.cjs', 'dist/src/storage/store-worker-boot.mjs', 'dist/src/storage/store-worker.js',
      'grafana/dashboards/iot-ingest-overview.json', 'prometheus/alerts.yml', 'docs/runbook.md', 'docs/metrics.md']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => /(^|\/)test\/|\.test\.|^bench\/|\.ts$|iot-ingest-dev/.test(f))).toEqual([]);
    expect(readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8')).toContain('Apache License\n                           Version 2.0, January 2004');
  }, 150_000);

  it('npm start runs dist/ as its foreground process: a kill on npm start stops the service, nothing is left behind', async () => {
    // dist/ was built by the pack above (prepare).
    const npmStart = spawn('npm', ['start', '--', '--mqtt-host', '127.0.0.1', '--http-host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0',
      '--embedded-port', '0', '--data-dir', join(tmp, 'start-data')], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(npmStart);
    let log = '';
    npmStart.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    await waitFor(() => log.includes('"iot-ingest ready"'), { timeoutMs: 30_000, message: `npm start did not become ready:\n${log}` });
    const tree = processTree(npmStart.pid as number);
    // npm, then the service itself (exec: no shell in between), then its embedded store.
    expect(tree[1]).toMatch(/^\S*node bin\/iot-ingest\.js serve /);
    expect(tree.filter((cmd) => /tsx|esbuild/.test(cmd))).toEqual([]);
    const pids = processPids(npmStart.pid as number);
    npmStart.kill('SIGTERM');
    await waitFor(() => pids.every((pid) => !existsSync(`/proc/${pid}`)) || undefined, { timeoutMs: 20_000, message: 'a process of npm start outlived the kill' });
    expect(log).toContain('"iot-ingest stopped"');
  }, 60_000);

  it('installed from the tarball, the service runs with plain node and stores a reading', async () => {
    expect(tarball).not.toBe('');
    const app = join(tmp, 'app');
    writeFileSync(join(tmp, 'package.json'), JSON.stringify({ name: 'pack-check', version: '1.0.0', private: true }));
    npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel', 'error', tarball], tmp);
    expect(existsSync(join(tmp, 'node_modules', 'iot-ingest', 'dist', 'src', 'main.js'))).toBe(true);
    expect(existsSync(join(tmp, 'node_modules', 'tsx'))).toBe(false);
    expect(existsSync(join(tmp, 'node_modules', 'esbuild'))).toBe(false);
    expect(existsSync(join(tmp, 'node_modules', 'dynalite'))).toBe(true);

    const bin = join(tmp, 'node_modules', 'iot-ingest', 'bin', 'iot-ingest.js');
    const proc = spawn(process.execPath, [bin, 'serve', '--mqtt-host', '127.0.0.1', '--http-host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0',
      '--embedded-port', '0', '--data-dir', join(app, 'data')], { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(proc);
    let log = '';
    proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const ready = await waitFor(() => {
      const line = log.split('\n').find((l) => l.includes('"iot-ingest ready"'));
      return line ? (JSON.parse(line) as { mqttPort: number; dynamodbEndpoint: string }) : undefined;
    }, { timeoutMs: 30_000, message: `service from the tarball did not become ready:\n${log}` });

    const tree = processTree(proc.pid as number);
    expect(tree.length).toBeGreaterThanOrEqual(2); // the service and its embedded DynamoDB-API server
    expect(tree.filter((cmd) => /tsx|esbuild/.test(cmd))).toEqual([]);

    const client = await connectAsync(`mqtt://127.0.0.1:${ready.mqttPort}`, { clientId: 'pack-dev', reconnectPeriod: 0 });
    const ts = Date.now() - 1000;
    await client.publishAsync('devices/pack-dev/telemetry', JSON.stringify({ ts, temperature: 21.5 }), { qos: 1 });
    await client.endAsync();
    const query = spawnSync(process.execPath, [bin, 'query', 'pack-dev', '--dynamodb-endpoint', ready.dynamodbEndpoint], { cwd: tmp, encoding: 'utf8', timeout: 30_000 });
    expect(query.status, query.stderr).toBe(0);
    expect(JSON.parse(query.stdout)).toMatchObject({ deviceId: 'pack-dev', ts, temperature: 21.5 });

    proc.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
  }, 150_000);
});
