// The console in a real browser: Debian's chromium driven by playwright-core (never a downloaded
// browser). The service has an API token, so the console first asks for it; then it shows a device
// coming online, a reading arriving on the live chart, and a command sent from the form answered by
// an mqtt.js device. Saves docs/console.png (the README's screenshot).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynalite } from './helpers/dynamo-servers.ts';
import type { DynamoServer } from './helpers/dynamo-servers.ts';
import { REPO_ROOT, startTestService } from './helpers/service.ts';
import type { TestService } from './helpers/service.ts';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'console-test-token-0123456789';

describe.skipIf(!existsSync(CHROMIUM))('console in chromium', () => {
  let server: DynamoServer;
  let svc: TestService;
  let browser: BrowserContext;
  let profile: string;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    // The same build step npm runs on install and before the tests.
    await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'console/build.mjs')], { cwd: REPO_ROOT });
    server = await startDynalite();
    svc = await startTestService(server.endpoint, { apiToken: TOKEN, presenceFlushMs: 200 });
    profile = mkdtempSync(join(tmpdir(), 'iot-ingest-chromium-'));
    // A fresh profile directory (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await svc?.stop();
    await server?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('asks for the token, shows the fleet, live readings, dead letters and an answered command', async () => {
    const page = await browser.newPage();
    const failures: string[] = [];
    page.on('pageerror', (err) => failures.push(err.message));
    // Data paths are closed without the token; the shell is not.
    expect((await fetch(`${svc.httpUrl}/devices`)).status).toBe(401);
    await page.goto(`${svc.httpUrl}/`);
    await page.locator('#token-form').waitFor({ state: 'visible' });
    await page.fill('#token', TOKEN);
    await page.click('#token-form button');
    await page.waitForLoadState('load');
    await page.locator('#token-form').waitFor({ state: 'hidden' });

    // A device that answers every command.
    const device = await connectAsync(svc.mqttUrl, { clientId: 'greenhouse-1', reconnectPeriod: 0 });
    clients.push(device);
    device.on('message', (_topic, payload) => {
      const { commandId } = JSON.parse(payload.toString()) as { commandId: string };
      void device.publishAsync('devices/greenhouse-1/commands/response', JSON.stringify({ commandId, status: 'ok' }), { qos: 1 });
    });
    await device.subscribeAsync('devices/greenhouse-1/commands/#', { qos: 1 });
    const base = Date.now() - 120_000;
    for (let i = 0; i < 20; i++) await device.publishAsync('devices/greenhouse-1/telemetry', JSON.stringify({ ts: base + i * 5_000, temperature: 20 + Math.sin(i / 3) * 3 }), { qos: 1 });

    const row = page.locator('tr[data-device="greenhouse-1"][data-online="true"]');
    await row.waitFor({ timeout: 15_000 });
    await row.click();
    // (Page functions as strings: they run in the browser, not under this file's Node types.)
    await page.waitForFunction("Number(document.getElementById('device-chart').dataset.points) === 20", undefined, { timeout: 15_000 });
    // A reading arriving now shows up on the live chart.
    await device.publishAsync('devices/greenhouse-1/telemetry', JSON.stringify({ temperature: 24.2 }), { qos: 1 });
    await page.waitForFunction("Number(document.getElementById('device-chart').dataset.points) === 21", undefined, { timeout: 15_000 });
    await page.locator('tr[data-device="greenhouse-1"] td:nth-child(4)', { hasText: /\d/ }).waitFor({ timeout: 15_000 });
    // A dead letter.
    await device.publishAsync('devices/greenhouse-1/telemetry', '{"temperature": oops}', { qos: 1 });
    await page.locator('#dead-letters tbody tr', { hasText: 'malformed_json' }).waitFor({ timeout: 15_000 });

    await page.fill('#command-device', 'greenhouse-1');
    await page.fill('#command-name', 'vent');
    await page.fill('#command-payload', '{"open": true}');
    await page.click('#command-form button');
    await page.locator('#commands td.status-answered').waitFor({ timeout: 15_000 });
    expect(await page.locator('#commands tbody tr').count()).toBe(1);
    // The throughput chart has had its stats events.
    await page.waitForFunction("document.querySelectorAll('#throughput-chart canvas').length === 1");
    await page.screenshot({ path: join(REPO_ROOT, 'docs/console.png'), fullPage: true });
    expect(failures).toEqual([]);
  });
});
