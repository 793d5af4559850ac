// The end-of-run summary: one object (printed as JSON with --json) and its table rendering.
import type { BadKind } from './badActors.ts';
import { EXIT_CODES } from './exitCodes.ts';
import type { FleetResult } from './fleet.ts';
import { formatCount, formatMs, formatRate, formatSeconds, table } from './format.ts';
import type { SimulateOptions } from './options.ts';
import type { VerifyResult } from './verify.ts';

export interface Summary {
  readonly outcome: FleetResult['outcome'];
  readonly exitCode: number;
  readonly problems: readonly string[];
  readonly url: string;
  readonly scenario: string;
  readonly profile: string;
  readonly devices: number;
  readonly qos: 0 | 1;
  readonly batch: number;
  readonly seed: number;
  readonly durationSeconds: number;
  readonly connections: { readonly connects: number; readonly failures: number; readonly disconnects: number };
  readonly sent: { readonly messages: number; readonly readings: number };
  readonly acked: { readonly messages: number; readonly readings: number };
  readonly errors: number;
  readonly unacked: number;
  readonly bad: { readonly total: number; readonly acked: number; readonly byKind: Readonly<Record<BadKind, number>> };
  readonly latencyMs: { readonly p50: number | null; readonly p99: number | null; readonly max: number | null };
  /** Readings/s: acknowledged (QoS 1) or sent (QoS 0), over the publishing time. */
  readonly achievedRate: number;
  readonly targetRate: number;
  readonly minRate: number | null;
  readonly lastError: string | null;
  readonly verify:
    | (VerifyResult & { readonly ok: boolean })
    | { readonly ok: false; readonly error: string }
    | null;
}

export type VerifyOutcome = { readonly result: VerifyResult } | { readonly error: string } | undefined;

const round2 = (value: number | undefined): number | null => (value === undefined ? null : Math.round(value * 100) / 100);

export function buildSummary(options: SimulateOptions, run: FleetResult, verify: VerifyOutcome): Summary {
  const { stats } = run;
  const seconds = Math.max(0.001, run.elapsedMs / 1000);
  const delivered = options.qos === 1 ? stats.readingsAcked : stats.readingsSent;
  const achievedRate = delivered / seconds;
  const problems: string[] = [];
  let exitCode: number = EXIT_CODES.OK;
  const fail = (code: number, problem: string): void => {
    problems.push(problem);
    if (exitCode === EXIT_CODES.OK) exitCode = code;
  };
  if (run.outcome === 'connection-failed') {
    fail(EXIT_CODES.CONNECTION_FAILED, `no device could connect to ${options.url}${stats.lastError ? ` (${stats.lastError})` : ''}`);
  }
  let verifySummary: Summary['verify'] = null;
  if (verify !== undefined && 'result' in verify) {
    const lossCounts = options.qos === 1;
    verifySummary = { ...verify.result, ok: !lossCounts || verify.result.missing === 0 };
    if (lossCounts && verify.result.missing > 0) {
      fail(EXIT_CODES.MISSING_READINGS, `${verify.result.missing} acknowledged readings are missing from table ${options.table}`);
    }
  } else if (verify !== undefined) {
    verifySummary = { ok: false, error: verify.error };
    fail(EXIT_CODES.VERIFY_FAILED, `verify failed: ${verify.error}`);
  }
  if (options.minRate !== undefined && achievedRate < options.minRate) {
    fail(EXIT_CODES.BELOW_MIN_RATE, `achieved ${formatRate(achievedRate)} readings/s, below --min-rate ${options.minRate}`);
  }
  return {
    outcome: run.outcome,
    exitCode,
    problems,
    url: options.url,
    scenario: options.scenario.name,
    profile: options.profile,
    devices: options.devices,
    qos: options.qos,
    batch: options.batch,
    seed: options.seed,
    durationSeconds: Math.round(seconds * 1000) / 1000,
    connections: { connects: stats.connects, failures: stats.connectFailures, disconnects: stats.disconnects },
    sent: { messages: stats.messagesSent, readings: stats.readingsSent },
    acked: { messages: stats.messagesAcked, readings: stats.readingsAcked },
    errors: stats.errors,
    unacked: stats.unacked,
    bad: { total: stats.badTotal, acked: stats.badAcked, byKind: { ...stats.badSent } },
    latencyMs: {
      p50: round2(stats.latency.quantile(0.5)),
      p99: round2(stats.latency.quantile(0.99)),
      max: round2(stats.latency.max),
    },
    achievedRate: Math.round(achievedRate * 100) / 100,
    targetRate: options.ratePerDevice * options.devices,
    minRate: options.minRate ?? null,
    lastError: stats.lastError ?? null,
    verify: verifySummary,
  };
}

export function renderSummary(summary: Summary): string {
  const rows: Array<[string, string]> = [
    ['outcome', `${summary.outcome}${summary.exitCode === 0 ? '' : ` (exit ${summary.exitCode})`}`],
    ['scenario', `${summary.scenario}, ${summary.devices} x ${summary.profile}, QoS ${summary.qos}, batch ${summary.batch}, seed ${summary.seed}`],
    ['duration', formatSeconds(summary.durationSeconds * 1000)],
    ['connections', `${formatCount(summary.connections.connects)} connects, ${formatCount(summary.connections.failures)} failed attempts, `
      + `${formatCount(summary.connections.disconnects)} disconnects`],
    ['sent', `${formatCount(summary.sent.readings)} readings in ${formatCount(summary.sent.messages)} messages`],
    ['acked', summary.qos === 1
      ? `${formatCount(summary.acked.readings)} readings in ${formatCount(summary.acked.messages)} messages`
      : 'QoS 0: no acknowledgements'],
    ['errors', `${formatCount(summary.errors)} publish errors, ${formatCount(summary.unacked)} unacked at the end`],
    ['rate', `${formatRate(summary.achievedRate)} readings/s achieved (target ${formatRate(summary.targetRate)}`
      + `${summary.minRate === null ? '' : `, min ${summary.minRate}`})`],
    ['PUBACK latency', `p50 ${formatMs(summary.latencyMs.p50 ?? undefined)}, p99 ${formatMs(summary.latencyMs.p99 ?? undefined)}, `
      + `max ${formatMs(summary.latencyMs.max ?? undefined)}`],
  ];
  if (summary.bad.total > 0 || summary.scenario === 'bad-actors') {
    const kinds = Object.entries(summary.bad.byKind).map(([kind, n]) => `${kind} ${n}`).join(', ');
    rows.push(['bad messages', `${formatCount(summary.bad.total)} (${kinds}); ${formatCount(summary.bad.acked)} acked`]);
  }
  if (summary.verify !== null) {
    const v = summary.verify;
    rows.push(['verify', 'error' in v
      ? `FAILED: ${v.error}`
      : `${v.ok ? 'OK' : 'MISSING'}: ${formatCount(v.stored)}/${formatCount(v.acked)} stored, ${formatCount(v.missing)} missing, `
        + `${formatCount(v.unexpected)} unexpected (${v.devices} devices, ${v.queries} queries, ${formatMs(v.durationMs)})`]);
    if (!('error' in v) && v.missingSamples.length > 0) {
      rows.push(['missing e.g.', v.missingSamples.slice(0, 3).map((s) => `${s.deviceId}@${s.ts}`).join(', ')]);
    }
  }
  if (summary.lastError !== null) rows.push(['last error', summary.lastError]);
  const problems = summary.problems.map((problem) => `  ! ${problem}`).join('\n');
  return `\nsummary\n${table(rows)}\n${problems === '' ? '' : `${problems}\n`}`;
}
