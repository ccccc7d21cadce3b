/**
 * Azkaban's cron expressions (Quartz form) on top of croner. Pure: no clock, no I/O.
 *
 * Quartz: `sec min hour day-of-month month day-of-week [year]`, exactly one of the day fields `?`,
 * day-of-week 1=SUN … 7=SAT, `L`/`W`/`LW`/`L-n` in day-of-month, `L`/`nL`/`n#k` in day-of-week.
 * croner (mode 7-part, alternativeWeekdays) matches most of it; this module translates the rest:
 * `?` → `*`; `a/s` and `/s` steps; ranges that wrap (`22-2`, `FRI-MON`) → explicit lists; names →
 * numbers; day-of-week `L` alone → 7 (Saturday); `nL` → `n#L`; day-of-month `L-n` → a filter.
 * It also refuses what Quartz refuses and croner would accept (day-of-week 0 or 8, both day fields
 * set, `?` elsewhere).
 *
 * Time zones: croner computes matching wall-clock times (as if in UTC); this module maps each to an
 * instant in the schedule's zone. A wall time in a daylight-saving gap fires at the first instant
 * after the gap; a wall time that occurs twice fires at its first occurrence only.
 */
import { Cron } from 'croner';
import { CaissonError } from '../../../common/errors.js';

const FIELD_NAMES = ['seconds', 'minutes', 'hours', 'day-of-month', 'month', 'day-of-week', 'year'] as const;
type FieldIndex = 0 | 1 | 2 | 3 | 4 | 5 | 6;
const BOUNDS: ReadonlyArray<readonly [number, number]> = [
  [0, 59],
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [1, 7],
  [1970, 2099],
];
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function invalid(expression: string, why: string): CaissonError {
  return new CaissonError('INVALID_PARAMETER', `Invalid cron expression "${expression}": ${why}`);
}

export interface QuartzCron {
  /** The expression as given (trimmed, single-spaced). */
  readonly expression: string;
  readonly timeZone: string;
  /** The next fire instant strictly after `afterMs`, or null when there is none (a past year). */
  nextFireAfter(afterMs: number): number | null;
  /** Up to `n` fire instants strictly after `afterMs`. */
  nextFires(afterMs: number, n: number): number[];
}

/** True when `zone` is an IANA time zone name this runtime knows. */
export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone.trim() !== '';
  } catch {
    return false;
  }
}

/** Parses a Quartz cron expression; throws INVALID_PARAMETER saying what is wrong. */
export function parseQuartzCron(raw: string, timeZone: string): QuartzCron {
  const expression = raw.trim().split(/\s+/).join(' ');
  if (!isValidTimeZone(timeZone))
    throw new CaissonError('INVALID_PARAMETER', `Unknown time zone "${timeZone}": use an IANA name like Europe/Paris or UTC.`);
  const fields = expression === '' ? [] : expression.toUpperCase().split(' ');
  if (fields.length !== 6 && fields.length !== 7) {
    throw invalid(
      expression,
      `expected 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]), got ${fields.length}.`,
    );
  }
  const [sec, min, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string, string | undefined];
  const domNone = dom === '?';
  const dowNone = dow === '?';
  if (domNone === dowNone) {
    throw invalid(expression, "put '?' in exactly one of day-of-month and day-of-week (Quartz cannot combine both day fields).");
  }
  const out: string[] = [translateNumeric(expression, sec, 0), translateNumeric(expression, min, 1), translateNumeric(expression, hour, 2)];
  let lastDayOffset: number | undefined;
  if (domNone) out.push('*');
  else {
    const d = translateDayOfMonth(expression, dom);
    out.push(d.field);
    lastDayOffset = d.lastDayOffset;
  }
  out.push(translateNumeric(expression, month, 4));
  out.push(dowNone ? '*' : translateDayOfWeek(expression, dow));
  out.push(year === undefined ? '*' : translateNumeric(expression, year, 6));
  let cron: Cron;
  try {
    cron = new Cron(out.join(' '), { mode: '7-part', alternativeWeekdays: true, domAndDow: true, timezone: 'UTC' });
  } catch (e) {
    throw invalid(expression, `${(e as Error).message.replace(/^CronPattern: /, '')}.`);
  }
  const matchesWall = (wallMs: number): boolean => {
    if (lastDayOffset === undefined) return true;
    const d = new Date(wallMs);
    const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
    return d.getUTCDate() === last - lastDayOffset;
  };
  const nextWallAfter = (wallMs: number): number | null => {
    let w = wallMs;
    for (;;) {
      const next = cron.nextRun(new Date(w));
      if (!next) return null;
      w = next.getTime();
      if (matchesWall(w)) return w;
    }
  };
  const zone = new ZoneClock(timeZone);
  const nextFireAfter = (afterMs: number): number | null => {
    let w = zone.wallOf(afterMs);
    for (;;) {
      const next = nextWallAfter(w);
      if (next === null) return null;
      const instant = zone.instantOf(next);
      // Wall times in the second pass of a repeated hour map to their first occurrence (≤ afterMs).
      if (instant > afterMs) return instant;
      w = next;
    }
  };
  return {
    expression,
    timeZone,
    nextFireAfter,
    nextFires(afterMs, n) {
      const fires: number[] = [];
      let t = afterMs;
      while (fires.length < n) {
        const next = nextFireAfter(t);
        if (next === null) break;
        fires.push(next);
        t = next;
      }
      return fires;
    },
  };
}

function toNumber(expression: string, token: string, index: FieldIndex): number {
  let n: number;
  if (index === 4 && MONTHS.includes(token)) n = MONTHS.indexOf(token) + 1;
  else if (index === 5 && DAYS.includes(token)) n = DAYS.indexOf(token) + 1;
  else if (/^\d+$/.test(token)) n = Number(token);
  else throw invalid(expression, `"${token}" is not a valid ${FIELD_NAMES[index]} value.`);
  const [lo, hi] = BOUNDS[index]!;
  if (n < lo || n > hi) throw invalid(expression, `${FIELD_NAMES[index]} values must be between ${lo} and ${hi}, got ${token}.`);
  return n;
}

/** One list item of a plain field: `*`, `*` + `/s`, `/s`, `a`, `a-b`, `a/s`, `a-b/s`; ranges may wrap (not years). */
function translateItem(expression: string, item: string, index: FieldIndex): string {
  const [lo, hi] = BOUNDS[index]!;
  const m = /^([^/]*)(?:\/(.*))?$/.exec(item)!;
  const base = m[1]!;
  const stepRaw = m[2];
  let step: number | undefined;
  if (stepRaw !== undefined) {
    if (!/^\d+$/.test(stepRaw) || Number(stepRaw) === 0)
      throw invalid(expression, `the step in "${item}" (${FIELD_NAMES[index]}) must be a positive whole number.`);
    step = Number(stepRaw);
  }
  if (base === '*' || base === '') {
    if (base === '' && step === undefined) throw invalid(expression, `empty item in ${FIELD_NAMES[index]}.`);
    return step === undefined ? '*' : `*/${step}`;
  }
  const range = /^([^-]+)-([^-]+)$/.exec(base);
  const from = toNumber(expression, range ? range[1]! : base, index);
  const to = range ? toNumber(expression, range[2]!, index) : step === undefined ? from : hi;
  if (from <= to) return step === undefined ? (from === to ? `${from}` : `${from}-${to}`) : `${from}-${to}/${step}`;
  if (index === 6) throw invalid(expression, `year range "${item}" must go upward.`);
  // Quartz wraps a range whose end is below its start (22-2 = 22,23,0,1,2; FRI-MON = 6,7,1,2).
  const span = hi - lo + 1;
  const values: number[] = [];
  for (let v = from; v <= to + span; v += step ?? 1) values.push(v > hi ? v - span : v);
  return values.join(',');
}

function translateNumeric(expression: string, field: string, index: FieldIndex): string {
  if (field === '?') throw invalid(expression, `'?' is only allowed in day-of-month or day-of-week, not in ${FIELD_NAMES[index]}.`);
  if (/[LW#]/.test(field.replace(/[A-Z]{3}/g, (n) => (MONTHS.includes(n) || DAYS.includes(n) ? '' : n))))
    throw invalid(expression, `'L', 'W' and '#' are only allowed in the day fields, not in ${FIELD_NAMES[index]} ("${field}").`);
  return field
    .split(',')
    .map((item) => translateItem(expression, item, index))
    .join(',');
}

function translateDayOfMonth(expression: string, field: string): { field: string; lastDayOffset?: number } {
  if (field === 'L' || field === 'LW') return { field };
  const lastMinus = /^L-(\d+)$/.exec(field);
  if (lastMinus) {
    const n = Number(lastMinus[1]);
    if (n > 30) throw invalid(expression, `the offset in "${field}" must be between 0 and 30.`);
    return { field: '*', lastDayOffset: n };
  }
  const weekday = /^(\d+)W$/.exec(field);
  if (weekday) return { field: `${toNumber(expression, weekday[1]!, 3)}W` };
  if (/[LW#]/.test(field))
    throw invalid(expression, `day-of-month accepts 'L', 'L-n', 'LW' or 'nW' only as the whole field, got "${field}".`);
  return { field: translateNumeric(expression, field, 3) };
}

function translateDayOfWeek(expression: string, field: string): string {
  if (field === 'L') return '7';
  const last = /^([A-Z]+|\d+)L$/.exec(field);
  if (last) return `${toNumber(expression, last[1]!, 5)}#L`;
  const nth = /^([A-Z]+|\d+)#(\d+)$/.exec(field);
  if (nth) {
    const k = Number(nth[2]);
    if (k < 1 || k > 5) throw invalid(expression, `the week in "${field}" must be between 1 and 5.`);
    return `${toNumber(expression, nth[1]!, 5)}#${k}`;
  }
  if (/L|#/.test(field.replace(/[A-Z]{3}/g, (n) => (DAYS.includes(n) ? '' : n))))
    throw invalid(expression, `day-of-week accepts 'L', 'nL' or 'n#k' only as the whole field, got "${field}".`);
  return translateNumeric(expression, field, 5);
}

/** Wall-clock time (local time read as if it were UTC, in ms) ⇄ instants, in one IANA zone. */
export class ZoneClock {
  private readonly format: Intl.DateTimeFormat;

  constructor(readonly timeZone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  wallOf(instantMs: number): number {
    const p: Record<string, number> = {};
    for (const part of this.format.formatToParts(new Date(instantMs))) if (part.type !== 'literal') p[part.type] = Number(part.value);
    const ms = ((instantMs % 1000) + 1000) % 1000;
    return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!, ms);
  }

  /** The earliest instant showing `wallMs`; in a gap, the first instant after the gap. */
  instantOf(wallMs: number): number {
    const offsets = new Set([-86_400_000, 0, 86_400_000].map((d) => this.wallOf(wallMs + d) - (wallMs + d)));
    const valid = [...offsets].map((o) => wallMs - o).filter((t) => this.wallOf(t) === wallMs);
    if (valid.length > 0) return Math.min(...valid);
    // In a gap: the first instant whose wall time is past `wallMs` (the transition), to the second.
    const candidates = [...offsets].map((o) => wallMs - o);
    let lo = Math.min(...candidates);
    let hi = Math.max(...candidates);
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
      if (this.wallOf(mid) > wallMs) hi = mid;
      else lo = mid;
    }
    return hi;
  }
}
