// The simulator's durations: plain seconds or with a unit, as the compose load profile passes them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDurationSeconds } from '../../simulator/duration.ts';
import { parseSimulateArgs } from '../../simulator/options.ts';
import { REPO_ROOT } from '../helpers/promql.ts';

describe('simulator durations', () => {
  it('reads plain seconds and ms, s, m, h', () => {
    expect(parseDurationSeconds('90')).toBe(90);
    expect(parseDurationSeconds('0.5')).toBe(0.5);
    expect(parseDurationSeconds('500ms')).toBe(0.5);
    expect(parseDurationSeconds('30s')).toBe(30);
    expect(parseDurationSeconds('10m')).toBe(600);
    expect(parseDurationSeconds('1h')).toBe(3600);
    expect(parseDurationSeconds(' 2m ')).toBe(120);
    for (const bad of ['', 'm', '10x', '-5', '1e3', '10 minutes', '1h30m']) expect(parseDurationSeconds(bad), bad).toBeUndefined();
  });

  it('accepts the compose load profile\'s default duration', () => {
    const compose = readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
    const fallback = /--duration\n\s+- "\$\{SIM_DURATION:-([^}]+)\}"/.exec(compose)?.[1];
    expect(fallback).toBe('10m');
    const parsed = parseSimulateArgs(['--url', 'mqtt://ingest:1883', '--devices', '1000', '--rate', '1', '--duration', fallback as string], {}, () => 1);
    expect(parsed).toMatchObject({ kind: 'ok', options: { durationMs: 600_000, devices: 1000 } });
  });

  it('a bad duration names the option and the accepted forms', () => {
    const parsed = parseSimulateArgs(['--duration', '10x'], {}, () => 1);
    expect(parsed).toEqual({ kind: 'error', errors: ['--duration: "10x" is not a duration (seconds, or with a unit: 500ms, 30s, 10m, 1h)'] });
    expect(parseSimulateArgs(['--duration', '0s'], {}, () => 1)).toEqual({ kind: 'error', errors: ['--duration: must be greater than 0 (got "0s")'] });
    expect(parseSimulateArgs(['--drain-timeout', '2m', '--storm-downtime', '1500ms', '--scenario', 'reconnect-storm'], {}, () => 1))
      .toMatchObject({ kind: 'ok', options: { drainTimeoutMs: 120_000, scenario: { downtimeMs: 1500 } } });
  });
});
