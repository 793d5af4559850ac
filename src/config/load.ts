// Reads settings from env vars and flags through the schema: defaults < env < flags. Every problem
// is collected and reported at once, each naming the flag and env var it came from, in plain words
// (src/config/issues.ts), never zod's own wording.
import type { z } from 'zod';
import { CliError } from '../errors.ts';
import type { OptionDef, ParsedFlags } from '../cli/options.ts';
import { formatOptions, parseFlags, settingOption } from '../cli/options.ts';
import { describeIssue } from './issues.ts';
import type { SettingSpec } from './schema.ts';

export interface LoadedConfig<T> {
  readonly config: T;
  readonly help: boolean;
  readonly positionals: string[];
}

/** Problems as one line each; a single problem stays a single line. */
export function usageError(problems: readonly string[], cause?: unknown): CliError {
  const message = problems.length === 1 ? problems[0] as string : `${problems.length} problems:\n${problems.map((p) => `  ${p}`).join('\n')}`;
  return new CliError('CONFIG_INVALID', message, { exitCode: 2, cause });
}

/** Validates what parseFlags read (flag names) against the schema (config keys). Throws a usage CliError. */
export function validateSettings<S extends z.ZodType>(schema: S, settings: readonly SettingSpec[], parsed: ParsedFlags): z.infer<S> {
  const raw: Record<string, unknown> = {};
  for (const s of settings) if (parsed.values[s.flag] !== undefined) raw[s.key] = parsed.values[s.flag];
  const result = schema.safeParse(raw);
  const problems = [...parsed.errors];
  if (!result.success) {
    const byKey = new Map(settings.map((s) => [s.key, s]));
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? '');
      const spec = byKey.get(key);
      const name = spec ? `--${spec.flag} / ${spec.env}` : key || 'config';
      const origin = spec ? parsed.origin[spec.flag] : undefined;
      problems.push(`${name}: ${describeIssue(issue)}${origin && origin.includes('=') ? ` (got ${origin})` : ''}`);
    }
  }
  if (problems.length > 0 || !result.success) throw usageError(problems);
  return result.data;
}

export function loadConfig<S extends z.ZodType>(
  schema: S,
  settings: readonly SettingSpec[],
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): LoadedConfig<z.infer<S>> {
  const parsed = parseFlags(settings.map((s) => settingOption(s)), argv, env, Number.POSITIVE_INFINITY);
  if (parsed.values.help === true) return { config: undefined as z.infer<S>, help: true, positionals: parsed.positionals };
  return { config: validateSettings(schema, settings, parsed), help: false, positionals: parsed.positionals };
}

/** Settings as options for --help, defaults taken from the schema (keyed by config key). */
export function settingsHelpOptions(settings: readonly SettingSpec[], defaults: Record<string, unknown>, group?: string): OptionDef[] {
  return settings.map((s) => {
    const def = defaults[s.key];
    const o = settingOption(s, group);
    return def === undefined || s.secret ? o : { ...o, defaultText: String(def) };
  });
}

/** Help text generated from the settings table and the schema's defaults. */
export function formatSettingsHelp(settings: readonly SettingSpec[], defaults: Record<string, unknown>): string {
  return formatOptions(settingsHelpOptions(settings, defaults));
}

/** Config with secrets masked, for the one start-up log line. */
export function maskConfig(config: Record<string, unknown>, settings: readonly SettingSpec[]): Record<string, unknown> {
  const out = { ...config };
  for (const s of settings) if (s.secret && out[s.key] !== undefined) out[s.key] = '***';
  return out;
}
