/**
 * Typed config helpers: each option declares its environment name, YAML key, parser and default;
 * `loadConfig` reads them all, collects every problem, and returns a frozen object. Pure: the
 * caller passes the environment and the parsed YAML file.
 */
import { CaissonError, type Problem } from '../errors.js';

export type Parser<T> = (raw: string) => T;

export interface OptionSpec<T> {
  /** Environment variable, e.g. CAISSON_PORT. */
  env: string;
  /** Key in the YAML config file, e.g. port. */
  key: string;
  parse: Parser<T>;
  /** Default value, or a function of the options parsed so far (e.g. a path under the data dir). */
  default: T | ((partial: Record<string, unknown>) => T);
  doc: string;
  /** How the default reads in the docs when its value is not self-explanatory (e.g. `24h`). */
  defaultText?: string;
}

export function option<T>(spec: OptionSpec<T>): OptionSpec<T> {
  return spec;
}

export type ConfigOf<S extends Record<string, OptionSpec<unknown>>> = {
  readonly [K in keyof S]: S[K] extends OptionSpec<infer T> ? T : never;
};

/** Thrown by parsers; the loader prefixes the option's source. */
class ParseFailure extends Error {}

export function fail(message: string): never {
  throw new ParseFailure(message);
}

export const parsers = {
  string: (raw: string): string => raw,
  nonEmpty: (raw: string): string => (raw.trim() === '' ? fail('must not be empty') : raw),
  integer:
    (min: number, max: number): Parser<number> =>
    (raw) => {
      if (!/^-?\d+$/.test(raw.trim())) fail(`expected a whole number, got "${raw}"`);
      const n = Number(raw.trim());
      if (n < min || n > max) fail(`expected a number from ${min} to ${max}, got ${n}`);
      return n;
    },
  boolean: (raw: string): boolean => {
    const v = raw.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    return fail(`expected true or false, got "${raw}"`);
  },
  oneOf:
    <T extends string>(...values: T[]): Parser<T> =>
    (raw) =>
      (values as string[]).includes(raw.trim()) ? (raw.trim() as T) : fail(`expected one of ${values.join(', ')}, got "${raw}"`),
  /** Durations: plain milliseconds, or a number with ms, s, m, h or d. */
  duration: (raw: string): number => parseDuration(raw),
  /** Byte sizes: plain bytes, or a number with KiB, MiB, GiB (or K, M, G). */
  bytes: (raw: string): number => parseByteSize(raw),
  /** A comma-separated list. */
  list: (raw: string): string[] =>
    raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
} as const;

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(raw);
  if (!m) return fail(`expected a duration like 500ms, 30s, 15m, 24h or 7d, got "${raw}"`);
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 'ms']!);
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

export function parseByteSize(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(raw);
  const unit = SIZE_UNITS[(m?.[2] ?? 'x').toLowerCase()];
  if (!m || unit === undefined) return fail(`expected a size like 512KiB, 200MiB or 1GiB, got "${raw}"`);
  return Math.round(Number(m[1]) * unit);
}

/**
 * Reads every option from env (wins) or the YAML file, falls back to defaults, and reports all
 * problems at once (unknown file keys included). Returns a frozen object.
 */
export function loadConfig<S extends Record<string, OptionSpec<unknown>>>(
  specs: S,
  env: Readonly<Record<string, string | undefined>>,
  file: { path: string; values: Record<string, unknown> } | undefined,
): ConfigOf<S> {
  const problems: Problem[] = [];
  const out: Record<string, unknown> = {};
  const knownKeys = new Set(Object.values(specs).map((s) => s.key));
  if (file) {
    for (const key of Object.keys(file.values)) {
      if (!knownKeys.has(key)) problems.push({ message: `unknown setting "${key}" in ${file.path}` });
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    const fromEnv = env[spec.env];
    const fromFile = file?.values[spec.key];
    let raw: string | undefined;
    let source = '';
    if (fromEnv !== undefined && fromEnv !== '') {
      raw = fromEnv;
      source = spec.env;
    } else if (fromFile !== undefined && fromFile !== null) {
      if (typeof fromFile === 'object') {
        problems.push({ message: `${file!.path}: "${spec.key}" must be a single value, not a list or mapping` });
        continue;
      }
      raw = String(fromFile);
      source = `${file!.path}: ${spec.key}`;
    }
    if (raw === undefined) {
      out[name] = typeof spec.default === 'function' ? (spec.default as (p: Record<string, unknown>) => unknown)(out) : spec.default;
      continue;
    }
    try {
      out[name] = spec.parse(raw);
    } catch (e) {
      if (!(e instanceof ParseFailure)) throw e;
      problems.push({ message: `${source}: ${e.message}` });
    }
  }
  if (problems.length > 0) {
    throw new CaissonError('INVALID_CONFIG', `invalid configuration:\n${problems.map((p) => `  - ${p.message}`).join('\n')}`, { problems });
  }
  return Object.freeze(out) as ConfigOf<S>;
}
