// Live progress on stderr: on a terminal one status block redrawn in place every 0.5 s; otherwise
// one plain line every --progress-interval seconds (logs, CI).
import { formatCount, formatMs, formatRate, formatSeconds } from './format.ts';
import type { FleetStats } from './stats.ts';

const TTY_INTERVAL_MS = 500;

export interface ProgressSettings {
  readonly out: NodeJS.WritableStream;
  readonly isTTY: boolean;
  readonly intervalMs: number;
  readonly devices: number;
  /** Planned run time, for the remaining time (undefined with --count alone). */
  readonly durationMs: number | undefined;
  /** Readings expected in total with --count, for a percentage. */
  readonly totalReadings: number | undefined;
  readonly title: string;
}

export interface ProgressView {
  stop(): void;
}

interface Totals {
  readonly atMs: number;
  readonly sent: number;
  readonly acked: number;
}

export function renderLines(settings: ProgressSettings, stats: FleetStats, elapsedMs: number, sentPerSecond: number, ackedPerSecond: number): string[] {
  const remaining = settings.durationMs !== undefined
    ? `remaining ${formatSeconds(Math.max(0, settings.durationMs - elapsedMs))}`
    : settings.totalReadings !== undefined
      ? `${Math.floor((100 * stats.readingsSent) / settings.totalReadings)}% of ${formatCount(settings.totalReadings)} readings`
      : '';
  const bad = stats.badTotal > 0 ? `   bad ${formatCount(stats.badTotal)}` : '';
  return [
    settings.title,
    `  elapsed   ${formatSeconds(elapsedMs)}   ${remaining}`,
    `  devices   ${formatCount(stats.connected)}/${formatCount(settings.devices)} connected   `
      + `connects ${formatCount(stats.connects)}   disconnects ${formatCount(stats.disconnects)}`,
    `  readings  sent ${formatRate(sentPerSecond)}/s   acked ${formatRate(ackedPerSecond)}/s   `
      + `in flight ${formatCount(stats.inflight)}   errors ${formatCount(stats.errors)}${bad}`,
    `  PUBACK    p50 ${formatMs(stats.recentLatency.quantile(0.5))}   p99 ${formatMs(stats.recentLatency.quantile(0.99))}`
      + `   (overall p99 ${formatMs(stats.latency.quantile(0.99))})`,
  ];
}

export function renderPlainLine(settings: ProgressSettings, stats: FleetStats, elapsedMs: number, sentPerSecond: number, ackedPerSecond: number): string {
  return `[${(elapsedMs / 1000).toFixed(1).padStart(6)}s] connected ${stats.connected}/${settings.devices}`
    + ` sent ${formatRate(sentPerSecond)}/s acked ${formatRate(ackedPerSecond)}/s`
    + ` total sent ${stats.readingsSent} acked ${stats.readingsAcked} inflight ${stats.inflight}`
    + ` errors ${stats.errors}${stats.badTotal > 0 ? ` bad ${stats.badTotal}` : ''}`
    + ` p50 ${formatMs(stats.recentLatency.quantile(0.5))} p99 ${formatMs(stats.recentLatency.quantile(0.99))}`;
}

export function startProgress(settings: ProgressSettings, stats: FleetStats, elapsedMs: () => number): ProgressView {
  let previous: Totals = { atMs: 0, sent: 0, acked: 0 };
  let drawnLines = 0;
  const tick = (): void => {
    const now = elapsedMs();
    const seconds = Math.max(0.001, (now - previous.atMs) / 1000);
    const sentPerSecond = (stats.readingsSent - previous.sent) / seconds;
    const ackedPerSecond = (stats.readingsAcked - previous.acked) / seconds;
    previous = { atMs: now, sent: stats.readingsSent, acked: stats.readingsAcked };
    if (settings.isTTY) {
      const lines = renderLines(settings, stats, now, sentPerSecond, ackedPerSecond);
      const clear = drawnLines > 0 ? `\x1b[${drawnLines}A\x1b[0J` : '';
      settings.out.write(`${clear}${lines.join('\n')}\n`);
      drawnLines = lines.length;
    } else {
      settings.out.write(`${renderPlainLine(settings, stats, now, sentPerSecond, ackedPerSecond)}\n`);
    }
    stats.recentLatency.reset();
  };
  const timer = setInterval(tick, settings.isTTY ? TTY_INTERVAL_MS : settings.intervalMs);
  return {
    stop: () => clearInterval(timer),
  };
}
