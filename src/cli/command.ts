// What a command is, and the one wrapper that gives every command the same behaviour: options read
// by the shared parser (options.ts) and checked by the schema, --help in one layout, --version,
// --json where the output is data, stray arguments refused, and every error turned into one line
// with an exit code by explain.ts. A command file only declares its options and its `run`.
import type { z } from 'zod';
import { usageError, settingsHelpOptions, validateSettings } from '../config/load.ts';
import type { SettingSpec } from '../config/schema.ts';
import { EXIT } from './exit-codes.ts';
import { explainError } from './explain.ts';
import type { OptionDef } from './options.ts';
import { JSON_OPTION, formatOptions, formatRows, parseFlags } from './options.ts';
import { packageVersion } from './version.ts';

export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  /** Whether stderr is a terminal (progress may redraw in place). */
  readonly stderrIsTTY: boolean;
  /**
   * Takes over SIGINT/SIGTERM: the first one aborts the returned signal (reason: the signal's name),
   * a second one exits at once with 130. Commands that do not call it die on a signal as usual.
   */
  trapSignals(): AbortSignal;
}

/** A registered command: the registry calls `run` with the arguments after the command name. */
export interface CliCommand {
  run(argv: readonly string[], io: CliIo): Promise<number>;
}

export interface CommandRun<C> {
  readonly config: C;
  /** Positional arguments (at most `spec.positionals.length`). */
  readonly args: readonly string[];
  /** --json was given (only for commands with `json: true`). */
  readonly json: boolean;
  readonly io: CliIo;
}

export interface CommandSpec<S extends z.ZodType> {
  readonly name: string;
  /** Usage lines after "iot-ingest <name>", e.g. "<deviceId> [options]". */
  readonly usage: readonly string[];
  readonly description: string;
  /** Positional arguments, in order: [name, meaning]. More than these is a usage error. */
  readonly positionals?: ReadonlyArray<readonly [string, string]>;
  /** Any number (0+) of further positional arguments after `positionals` (`tail [deviceId ...]`). */
  readonly restPositionals?: readonly [string, string];
  /** Sub-actions (`dlq list|replay|purge`): [name, meaning]; the first positional must be one. */
  readonly actions?: ReadonlyArray<readonly [string, string]>;
  readonly settings: readonly SettingSpec[];
  /** Extra option groups for --help: settings whose key is listed here appear under that group. */
  readonly groups?: Readonly<Record<string, readonly string[]>>;
  readonly schema: S;
  /** The output is data: --json is offered. */
  readonly json?: boolean;
  readonly examples?: readonly string[];
  /** Free text after the options (exit codes, notes). */
  readonly notes?: string;
  run(ctx: CommandRun<z.infer<S>>): Promise<number>;
}

function options(spec: CommandSpec<z.ZodType>): OptionDef[] {
  const defaults = (spec.schema.safeParse({}).data ?? {}) as Record<string, unknown>;
  const groupOf = (key: string): string | undefined => Object.entries(spec.groups ?? {}).find(([, keys]) => keys.includes(key))?.[0];
  const defs = spec.settings.flatMap((s) => settingsHelpOptions([s], defaults, groupOf(s.key)));
  return spec.json ? [...defs, JSON_OPTION] : defs;
}

export function commandHelp(spec: CommandSpec<z.ZodType>): string {
  const parts = [
    spec.usage.map((u, i) => `${i === 0 ? 'Usage:' : '      '} iot-ingest ${spec.name} ${u}`).join('\n'),
    spec.description,
  ];
  if (spec.actions) parts.push(`Actions:\n${formatRows(spec.actions, 12)}`);
  const positionals = [...(spec.positionals ?? []), ...(spec.restPositionals ? [spec.restPositionals] : [])];
  if (positionals.length > 0) parts.push(`Arguments:\n${formatRows(positionals)}`);
  parts.push(formatOptions(options(spec)));
  if (spec.notes) parts.push(spec.notes);
  if (spec.examples) parts.push(`Examples:\n${spec.examples.map((e) => `  ${e}`).join('\n')}`);
  return `${parts.join('\n\n')}\n`;
}

/** Turns a declared command into a runnable one; errors become one line and an exit code. */
export function defineCommand<S extends z.ZodType>(spec: CommandSpec<S>): CliCommand {
  return {
    async run(argv, io) {
      const maxArgs = spec.restPositionals ? Number.MAX_SAFE_INTEGER : (spec.actions ? 1 : 0) + (spec.positionals?.length ?? 0);
      const parsed = parseFlags(options(spec as CommandSpec<z.ZodType>), argv, io.env, maxArgs);
      if (parsed.values.help === true) {
        io.stdout.write(commandHelp(spec as CommandSpec<z.ZodType>));
        return EXIT.OK;
      }
      if (parsed.values.version === true) {
        io.stdout.write(`${packageVersion()}\n`);
        return EXIT.OK;
      }
      const debug = ['debug', 'trace'].includes(String(parsed.values['log-level'] ?? ''));
      try {
        const args = parsed.positionals;
        const actionCount = spec.actions ? 1 : 0;
        if (spec.actions) {
          const action = args[0];
          const names = spec.actions.map(([n]) => n);
          if (action === undefined) throw usageError([`missing action: ${names.join(', ')} (see --help)`]);
          if (!names.includes(action)) throw usageError([`unknown action "${action}": use ${names.join(', ')}`]);
        }
        const config = validateSettings(spec.schema, spec.settings, parsed);
        const missing = spec.positionals?.[args.length - actionCount]?.[0];
        if (missing !== undefined) throw usageError([`missing <${missing}> (see --help)`]);
        return await spec.run({ config, args, json: parsed.values.json === true, io });
      } catch (err) {
        const explained = explainError(err, debug);
        if (explained.line !== '') io.stderr.write(`iot-ingest ${spec.name}: ${explained.line}\n`);
        return explained.exitCode;
      }
    },
  };
}
