// The one option parser and help formatter of every `iot-ingest` command. node:util parseArgs
// tokenizes; this file decides what a token means (unknown option, missing value, stray argument)
// and how an option is shown in --help, so that every command spells, parses and documents its
// options the same way. Validation of the values is the schema's job (src/config/).
import { parseArgs } from 'node:util';
import type { SettingSpec } from '../config/schema.ts';

export interface OptionDef {
  /** Long flag without dashes, e.g. `mqtt-port`. */
  readonly flag: string;
  readonly short?: string;
  readonly kind: 'string' | 'boolean';
  /** Environment variable read when the flag is absent. */
  readonly env?: string;
  /** Placeholder in --help, e.g. N or URL. */
  readonly value?: string;
  readonly help: string;
  /** Shown as [default: ...]. */
  readonly defaultText?: string;
  /** Heading the option is listed under in --help. */
  readonly group?: string;
  /** A boolean that also accepts --no-<flag>. */
  readonly negatable?: boolean;
  /** A string option that may be given several times (values collected in order). */
  readonly repeatable?: boolean;
  readonly secret?: boolean;
}

/** Options every command has. */
export const COMMON_OPTIONS: readonly OptionDef[] = [
  { flag: 'help', short: 'h', kind: 'boolean', help: 'show this help', group: 'General' },
  { flag: 'version', kind: 'boolean', help: 'print the version', group: 'General' },
];

export const JSON_OPTION: OptionDef = { flag: 'json', kind: 'boolean', help: 'print data as JSON (one object per line)', group: 'Output' };

export interface ParsedFlags {
  /** Flag name -> string, boolean, or string[] (repeatable); env fallbacks applied. */
  readonly values: Record<string, string | boolean | string[] | undefined>;
  /** Where each value came from, for error messages: `--flag="x"` or `ENV="x"`. */
  readonly origin: Record<string, string>;
  readonly positionals: string[];
  /** Usage problems, each one line naming the flag. */
  readonly errors: string[];
}

/** The --help placeholder a setting's name suggests: PORT, HOST, MS, BYTES, URL, else VALUE. */
function placeholder(key: string): string {
  const unit = /(Port|Host|Ms|Bytes|Endpoint)$/.exec(key)?.[1];
  return unit === undefined ? 'VALUE' : unit === 'Endpoint' ? 'URL' : unit.toUpperCase();
}

/** A SettingSpec of the serve schema as an option (booleans get --no-). */
export function settingOption(s: SettingSpec, group?: string): OptionDef {
  return {
    flag: s.flag, kind: s.kind, env: s.env, help: s.help, negatable: s.kind === 'boolean',
    ...(s.kind === 'string' ? { value: s.value ?? placeholder(s.key) } : {}),
    ...(s.repeatable ? { repeatable: true } : {}),
    ...(s.secret ? { secret: true } : {}),
    ...(group === undefined ? {} : { group }),
  };
}

/**
 * Reads argv against the option table. Unknown options, options without their value, values given
 * to boolean flags and (unless `maxPositionals` allows them) stray arguments are errors. `--` ends
 * options. Env fallbacks apply to options absent from argv; an empty env var counts as unset.
 */
export function parseFlags(defs: readonly OptionDef[], argv: readonly string[], env: NodeJS.ProcessEnv, maxPositionals = 0): ParsedFlags {
  const all = [...defs, ...COMMON_OPTIONS.filter((c) => !defs.some((d) => d.flag === c.flag))];
  const byFlag = new Map<string, OptionDef>();
  const config: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const d of all) {
    byFlag.set(d.flag, d);
    config[d.flag] = d.short ? { type: d.kind, short: d.short } : { type: d.kind };
  }
  const { tokens } = parseArgs({ args: [...argv], options: config, strict: false, allowPositionals: true, tokens: true });
  const values: ParsedFlags['values'] = {};
  const origin: Record<string, string> = {};
  const positionals: string[] = [];
  const errors: string[] = [];
  // The argument right after an unknown option is taken for its value, not reported a second time.
  let afterUnknown = false;
  for (const token of tokens) {
    if (token.kind === 'positional') {
      if (!afterUnknown) positionals.push(token.value);
      afterUnknown = false;
      continue;
    }
    afterUnknown = false;
    if (token.kind !== 'option') continue;
    const negated = token.name.startsWith('no-') ? byFlag.get(token.name.slice(3)) : undefined;
    const def = byFlag.get(token.name) ?? (negated?.negatable ? negated : undefined);
    if (def === undefined) {
      errors.push(`${token.rawName}: unknown option (see --help)`);
      afterUnknown = token.value === undefined;
    } else if (def.kind === 'boolean') {
      if (token.value !== undefined) errors.push(`--${token.name}: takes no value (got "${token.value}")`);
      else {
        values[def.flag] = def !== negated;
        origin[def.flag] = `--${token.name}`;
      }
    } else if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-') && Number.isNaN(Number(token.value)))) {
      errors.push(`--${token.name}: needs a value${def.value ? ` (${def.value})` : ''}`);
    } else if (def.repeatable) {
      const list = Array.isArray(values[def.flag]) ? (values[def.flag] as string[]) : [];
      values[def.flag] = [...list, token.value];
      origin[def.flag] = `--${def.flag}=${def.secret ? '***' : JSON.stringify(token.value)}`;
    } else {
      values[def.flag] = token.value;
      origin[def.flag] = `--${def.flag}=${def.secret ? '***' : JSON.stringify(token.value)}`;
    }
  }
  const stray = positionals.slice(maxPositionals);
  if (stray.length > 0) errors.push(`unexpected argument "${stray[0]}"${stray.length > 1 ? ` (and ${stray.length - 1} more)` : ''} (see --help)`);
  for (const d of all) {
    const fromEnv = d.env === undefined ? undefined : env[d.env];
    if (values[d.flag] !== undefined || fromEnv === undefined || fromEnv === '') continue;
    values[d.flag] = d.repeatable ? fromEnv.split(',').map((v) => v.trim()).filter((v) => v !== '') : fromEnv;
    origin[d.flag] = `${d.env}=${d.secret ? '***' : JSON.stringify(fromEnv)}`;
  }
  return { values, origin, positionals: positionals.slice(0, maxPositionals), errors };
}

const WIDTH = 100;
const COLUMN = 34;

function wrap(text: string, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && indent + line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

/** Two columns: term, then text wrapped at 100 characters. */
export function formatRows(rows: ReadonlyArray<readonly [string, string]>, column = COLUMN): string {
  return rows.map(([term, text]) => {
    const head = `  ${term}`;
    return head.length < column - 1 ? `${head.padEnd(column)}${wrap(text, column)}` : `${head}\n${' '.repeat(column)}${wrap(text, column)}`;
  }).join('\n');
}

/** The options section of --help, grouped, each with its env var and default. */
export function formatOptions(defs: readonly OptionDef[], defaults: Record<string, unknown> = {}): string {
  const all = [...defs, ...COMMON_OPTIONS.filter((c) => !defs.some((d) => d.flag === c.flag))];
  const groups = new Map<string, Array<readonly [string, string]>>();
  for (const d of all) {
    const name = d.negatable ? `--[no-]${d.flag}` : `--${d.flag}`;
    const term = `${d.short ? `-${d.short}, ` : '    '}${name}${d.kind === 'string' ? ` ${d.value ?? 'VALUE'}` : ''}`;
    const def = d.defaultText ?? (defaults[d.flag] === undefined ? undefined : String(defaults[d.flag]));
    const extras = [def === undefined ? '' : `[default: ${def}]`, d.env ? `[env: ${d.env}]` : '', d.repeatable ? '(repeatable)' : '']
      .filter((e) => e !== '').join(' ');
    const rows = groups.get(d.group ?? 'Options') ?? [];
    rows.push([term, `${d.help}${extras ? ` ${extras}` : ''}`]);
    groups.set(d.group ?? 'Options', rows);
  }
  return [...groups].map(([group, rows]) => `${group}:\n${formatRows(rows)}`).join('\n\n');
}
