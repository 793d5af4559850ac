// Durations on the simulator's command line: plain seconds ("90", "0.5") or a number with a unit,
// ms, s, m or h ("500ms", "30s", "10m", "1h"), as docker-compose's SIM_DURATION default "10m" is
// written. Returns seconds, or undefined when the text is not a duration.
const DURATION = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)?$/;
const SECONDS_PER_UNIT: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600 };

export function parseDurationSeconds(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * (SECONDS_PER_UNIT[match[2] ?? 's'] as number);
}
