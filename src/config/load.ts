// Reads settings from env vars and flags through the schema: defaults < env < flags. Every problem
// is collected and reported at once, each naming the flag and env var it came from.
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { CliError } from '../errors.ts';
import type { SettingSpec } from './schema.ts';

export interface LoadedConfig<T> {
  readonly config: T;
  readonly help: boolean;
  readonly positionals: string[];
}

type ParseOptions = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

export function loadConfig<S extends z.ZodType>(
  schema: S,
  settings: readonly SettingSpec[],
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): LoadedConfig<z.infer<S>> {
  const options: NonNullable<ParseOptions> = { help: { type: 'boolean', short: 'h' } };
  for (const s of settings) {
    options[s.flag] = s.multiple ? { type: s.kind, multiple: true } : { type: s.kind };
    if (s.kind === 'boolean') options[`no-${s.flag}`] = { type: 'boolean' };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError('CONFIG_INVALID', `${(err as Error).message} (see --help)`, { cause: err });
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const raw: Record<string, unknown> = {};
  const origin: Record<string, string> = {};
  for (const s of settings) {
    const fromEnv = env[s.env];
    if (fromEnv !== undefined && fromEnv !== '') {
      raw[s.key] = fromEnv;
      origin[s.key] = `${s.env}=${s.secret ? '***' : JSON.stringify(fromEnv)}`;
    }
    const flag = values[s.flag];
    if (flag !== undefined) {
      raw[s.key] = flag;
      origin[s.key] = `--${s.flag}${s.kind === 'boolean' ? '' : `=${s.secret ? '***' : JSON.stringify(flag)}`}`;
    }
    if (s.kind === 'boolean' && values[`no-${s.flag}`]) {
      raw[s.key] = false;
      origin[s.key] = `--no-${s.flag}`;
    }
  }
  if (values.help) return { config: undefined as z.infer<S>, help: true, positionals: parsed.positionals };

  const result = schema.safeParse(raw);
  if (!result.success) {
    const byKey = new Map(settings.map((s) => [s.key, s]));
    const lines = result.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const spec = byKey.get(key);
      const name = spec ? `--${spec.flag} / ${spec.env}` : key || 'config';
      const given = origin[key] ? ` (got ${origin[key]})` : '';
      return `  ${name}: ${issue.message}${given}`;
    });
    throw new CliError('CONFIG_INVALID', `invalid configuration:\n${lines.join('\n')}`);
  }
  return { config: result.data, help: false, positionals: parsed.positionals };
}

/** Help text generated from the settings table and the schema's defaults. */
export function formatSettingsHelp(settings: readonly SettingSpec[], defaults: Record<string, unknown>): string {
  const rows = settings.map((s) => {
    const flag = s.kind === 'boolean' ? `--[no-]${s.flag}` : `--${s.flag} <value>`;
    const def = defaults[s.key];
    const defText = def === undefined ? '' : ` [default: ${String(def)}]`;
    return `  ${flag.padEnd(34)} ${s.env.padEnd(26)} ${s.help}${defText}`;
  });
  return rows.join('\n');
}

/** Config with secrets masked, for the one start-up log line. */
export function maskConfig(config: Record<string, unknown>, settings: readonly SettingSpec[]): Record<string, unknown> {
  const out = { ...config };
  for (const s of settings) if (s.secret && out[s.key] !== undefined) out[s.key] = '***';
  return out;
}
