/**
 * Benchmark results: each figure keeps every round, its median and spread, and its target with a
 * PASS or MISS verdict on the median (and by how much it missed). Prints the table; the runner
 * writes the JSON file.
 */
import { median } from './stats.js';

export interface Target {
  op: '>=' | '<=';
  value: number;
}

/**
 * A target the issue states in MB (10^6 bytes) for a figure measured in MiB (2^20 bytes): 50 MB/s
 * is 47.7 MiB/s, 150 MB is 143 MiB.
 */
export function megabytesAsMiB(op: Target['op'], megabytes: number): Target {
  return { op, value: Math.round(((megabytes * 1e6) / 2 ** 20) * 100) / 100 };
}

export interface Figure {
  name: string;
  unit: string;
  rounds: number[];
  median: number;
  min: number;
  max: number;
  target?: Target;
  verdict: 'PASS' | 'MISS' | 'INFO';
  /** For a MISS: how far the median is from the target, as a factor. */
  missBy?: string;
}

export interface BenchResult {
  id: string;
  title: string;
  figures: Figure[];
  notes: string[];
  /** Why the benchmark did not run (a feature that has not landed). */
  skipped?: string;
  error?: string;
  seconds?: number;
}

export interface BenchContext {
  quick: boolean;
  log: (line: string) => void;
}

export interface Benchmark {
  id: string;
  title: string;
  run(ctx: BenchContext): Promise<Omit<BenchResult, 'id' | 'title'>>;
}

export function figure(name: string, unit: string, rounds: readonly number[], target?: Target): Figure {
  const m = median(rounds);
  const f: Figure = {
    name,
    unit,
    rounds: rounds.map(round3),
    median: round3(m),
    min: round3(Math.min(...rounds)),
    max: round3(Math.max(...rounds)),
    verdict: 'INFO',
  };
  if (target) {
    f.target = target;
    const ok = target.op === '>=' ? m >= target.value : m <= target.value;
    f.verdict = ok ? 'PASS' : 'MISS';
    if (!ok) {
      const factor = target.op === '>=' ? target.value / m : m / target.value;
      f.missBy = !Number.isFinite(factor) ? 'all' : factor < 2 ? `${((factor - 1) * 100).toFixed(1)} %` : `${factor.toFixed(1)}×`;
    }
  }
  return f;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toFixed(3);
}

export function formatTable(results: readonly BenchResult[]): string {
  const rows: string[][] = [['#', 'figure', 'median', 'spread (min–max)', 'rounds', 'target', 'verdict']];
  for (const r of results) {
    if (r.skipped || r.error) {
      rows.push([r.id, `${r.title}: ${r.skipped ? `SKIPPED (${r.skipped})` : `ERROR (${r.error})`}`, '', '', '', '', '']);
      continue;
    }
    for (const f of r.figures) {
      rows.push([
        r.id,
        f.name,
        `${fmt(f.median)} ${f.unit}`,
        `${fmt(f.min)}–${fmt(f.max)}`,
        String(f.rounds.length),
        f.target ? `${f.target.op} ${fmt(f.target.value)}` : '',
        f.verdict === 'MISS' ? `MISS by ${f.missBy}` : f.verdict,
      ]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]): string =>
    row
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const out = [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  for (const r of results) for (const n of r.notes) out.push(`  [${r.id}] ${n}`);
  return out.join('\n');
}
