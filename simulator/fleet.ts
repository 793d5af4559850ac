// The fleet: creates the devices, brings them up at a bounded connect rate, runs the scenario's
// timeline (storm), decides when the run is over, drains outstanding PUBACKs and closes.
import type { TransportSettings } from './connection.ts';
import { clientOptions } from './connection.ts';
import type { CredentialsLookup } from './credentials.ts';
import { SimulatedDevice } from './device.ts';
import { AckLedger } from './ledger.ts';
import type { PayloadFormat } from './messages.ts';
import { createMessageSource } from './messages.ts';
import type { ProfileName } from './profiles.ts';
import { PROFILE_NAMES, PROFILES } from './profiles.ts';
import { deriveSeed, deviceRandom } from './prng.ts';
import type { Scenario } from './scenarios.ts';
import { FleetStats } from './stats.ts';

export interface FleetSettings {
  readonly devices: number;
  readonly profile: ProfileName | 'mixed';
  readonly prefix: string;
  readonly transport: TransportSettings;
  readonly credentials: CredentialsLookup;
  readonly connectRatePerSecond: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  readonly ratePerDevice: number;
  readonly durationMs: number | undefined;
  readonly count: number | undefined;
  readonly qos: 0 | 1;
  readonly inflight: number;
  readonly batch: number;
  readonly format: PayloadFormat;
  readonly seed: number;
  readonly scenario: Scenario;
  readonly drainTimeoutMs: number;
}

export type FleetOutcome = 'completed' | 'aborted' | 'connection-failed';

export interface FleetResult {
  readonly outcome: FleetOutcome;
  readonly stats: FleetStats;
  readonly ledger: AckLedger;
  /** From the first connection attempt to the end of publishing (drain excluded). */
  readonly elapsedMs: number;
  readonly deviceIds: readonly string[];
}

export interface RunningFleet {
  readonly stats: FleetStats;
  /** Milliseconds since the run started. */
  elapsedMs(): number;
  readonly done: Promise<FleetResult>;
}

export function profileOf(profile: ProfileName | 'mixed', n: number): ProfileName {
  return profile === 'mixed' ? PROFILE_NAMES[(n - 1) % PROFILE_NAMES.length] ?? 'thermostat' : profile;
}

export function deviceIdOf(prefix: string, profile: ProfileName, n: number): string {
  return `${prefix}-${profile}-${n}`;
}

/** The nominal spacing of readings, used to back-date the readings of one batch. */
function readingIntervalMs(ratePerDevice: number): number {
  return Math.max(1, Math.round(1000 / ratePerDevice));
}

/** Which devices drop in a reconnect storm: an exact share, chosen by the seed. */
export function stormDevices(seed: number, devices: number, share: number): Set<number> {
  const order = Array.from({ length: devices }, (_, i) => i + 1)
    .sort((a, b) => deriveSeed(seed, a, 'storm') - deriveSeed(seed, b, 'storm'));
  return new Set(order.slice(0, Math.round(share * devices)));
}

export function startFleet(settings: FleetSettings, signal?: AbortSignal): RunningFleet {
  const stats = new FleetStats();
  const ledger = new AckLedger();
  const startedAt = performance.now();
  const elapsedMs = (): number => performance.now() - startedAt;
  let firstAttempts = 0;
  let finish: (outcome: FleetOutcome) => void = () => undefined;
  const finished = new Promise<FleetOutcome>((resolve) => {
    finish = resolve;
  });

  const context = {
    stats,
    ledger,
    scenario: settings.scenario,
    durationMs: settings.durationMs,
    elapsedMs,
    onFirstAttempt: (connected: boolean): void => {
      firstAttempts += 1;
      if (!connected && firstAttempts === settings.devices && stats.connects === 0) finish('connection-failed');
    },
    onProgress: (): void => {
      if (settings.count !== undefined && stats.finished === settings.devices && stats.inflight === 0) finish('completed');
    },
  };

  const devices = Array.from({ length: settings.devices }, (_, i) => {
    const n = i + 1;
    const profile = profileOf(settings.profile, n);
    const id = deviceIdOf(settings.prefix, profile, n);
    const source = createMessageSource({
      seed: settings.seed,
      deviceIndex: n,
      deviceId: id,
      profile: PROFILES[profile],
      format: settings.format,
      batch: settings.batch,
      readingIntervalMs: readingIntervalMs(settings.ratePerDevice),
      badShare: settings.scenario.name === 'bad-actors' ? settings.scenario.share : 0,
      badKinds: settings.scenario.name === 'bad-actors' ? settings.scenario.kinds : [],
    });
    return new SimulatedDevice({
      n,
      id,
      url: settings.transport.url,
      clientOptions: clientOptions(settings.transport, id, settings.credentials(id, n)),
      source,
      qos: settings.qos,
      inflight: settings.inflight,
      batch: settings.batch,
      ratePerDevice: settings.ratePerDevice,
      count: settings.count,
      reconnectMinMs: settings.reconnectMinMs,
      reconnectMaxMs: settings.reconnectMaxMs,
      jitter: deviceRandom(settings.seed, n, 'timing'),
    }, context);
  });

  const timers: NodeJS.Timeout[] = [];
  // Bring the fleet up at the connect rate: every 10 ms start the devices that are due.
  let started = 0;
  const connectTick = setInterval(() => {
    const due = Math.min(settings.devices, Math.floor((elapsedMs() / 1000) * settings.connectRatePerSecond) + 1);
    for (; started < due; started += 1) devices[started]?.start();
    if (started >= settings.devices) clearInterval(connectTick);
  }, 10);
  timers.push(connectTick);

  if (settings.scenario.name === 'reconnect-storm') {
    const { atMs, share, downtimeMs } = settings.scenario;
    const chosen = stormDevices(settings.seed, settings.devices, share);
    timers.push(setTimeout(() => {
      devices.forEach((device, i) => {
        if (chosen.has(i + 1)) device.dropFor(downtimeMs);
      });
    }, atMs));
  }
  if (settings.durationMs !== undefined) timers.push(setTimeout(() => finish('completed'), settings.durationMs));
  const onAbort = (): void => finish('aborted');
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) finish('aborted');

  const done = (async (): Promise<FleetResult> => {
    const outcome = await finished;
    const publishingMs = elapsedMs();
    signal?.removeEventListener('abort', onAbort);
    for (const timer of timers) clearTimeout(timer);
    clearInterval(connectTick);
    for (const device of devices) device.stop();
    if (outcome !== 'connection-failed') await drain(stats, settings.drainTimeoutMs, signal);
    await Promise.all(devices.map((device) => device.close()));
    return { outcome, stats, ledger, elapsedMs: publishingMs, deviceIds: devices.map((device) => device.id) };
  })();

  return { stats, elapsedMs, done };
}

/** Waits until no publish is outstanding or the timeout passes (at most 1 s after an abort). */
async function drain(stats: FleetStats, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = performance.now() + (signal?.aborted ? Math.min(timeoutMs, 1000) : timeoutMs);
  while (stats.inflight > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
