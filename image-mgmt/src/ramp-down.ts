/**
 * Automatic ramp-down (issue 4, beyond Azkaban), pure. A plan's guard judges each ramped version
 * against the type's ACTIVE version over the executions that ended within the guard's window: a
 * version whose failure rate exceeds ACTIVE's by more than the allowed points is taken off the plan
 * (UNSTABLE at 0%), and its share returns to the ACTIVE version.
 */
import type { RampupRow, StabilityTag } from './model.js';

export interface RampDownGuard {
  /** Finished executions a ramped version needs before it is judged (at least 1). */
  minExecutions: number;
  /** Allowed excess of the ramped failure rate over ACTIVE's, in percentage points (0..100). */
  maxExcessFailurePercent: number;
  /** Executions that ended within this many milliseconds before the check count. */
  windowMs: number;
}

/** Finished executions of one version within the window: failed = FAILED or EXECUTION_STOPPED. */
export interface WindowOutcome {
  finished: number;
  failed: number;
}

export interface RampDownDecision {
  version: string;
  /** The row's share before the ramp-down; it moves to the ACTIVE version. */
  percentage: number;
  ramped: WindowOutcome;
  active: WindowOutcome;
  /** A sentence with the measurements, for the audit log and the event. */
  reason: string;
}

function pct(o: WindowOutcome): string {
  return o.finished === 0 ? '0%' : `${Math.round((o.failed / o.finished) * 1000) / 10}%`;
}

/**
 * The rows to ramp down. A row is judged when it has a share, is not UNSTABLE, is not the ACTIVE
 * version, and has at least `minExecutions` finished executions; ACTIVE with no finished execution
 * counts as a 0% failure rate. The comparison is exact (integer cross-multiplication). Without an
 * ACTIVE version there is nowhere to return the share, so nothing is ramped down.
 */
export function decideRampDowns(
  rows: readonly RampupRow[],
  activeVersion: string | undefined,
  guard: RampDownGuard,
  outcomes: ReadonlyMap<string, WindowOutcome>,
): RampDownDecision[] {
  if (activeVersion === undefined) return [];
  const active = outcomes.get(activeVersion) ?? { finished: 0, failed: 0 };
  const out: RampDownDecision[] = [];
  for (const r of rows) {
    if (r.percentage === 0 || r.stabilityTag === 'UNSTABLE' || r.version === activeVersion) continue;
    const ramped = outcomes.get(r.version) ?? { finished: 0, failed: 0 };
    if (ramped.finished < Math.max(1, guard.minExecutions)) continue;
    // ramped.failed/ramped.finished - active.failed/active.finished > max/100, without fractions.
    const activeFinished = Math.max(1, active.finished);
    const lhs = 100 * (ramped.failed * activeFinished - active.failed * ramped.finished);
    const rhs = guard.maxExcessFailurePercent * ramped.finished * activeFinished;
    if (lhs <= rhs) continue;
    out.push({
      version: r.version,
      percentage: r.percentage,
      ramped,
      active,
      reason:
        `version ${r.version} failed ${ramped.failed} of ${ramped.finished} executions (${pct(ramped)}) against ` +
        `${active.failed} of ${active.finished} (${pct(active)}) on ACTIVE version ${activeVersion}, ` +
        `more than the ${guard.maxExcessFailurePercent} points the guard allows`,
    });
  }
  return out;
}

/**
 * The plan's rows after the ramp-downs: each ramped-down row UNSTABLE at 0%, its share added to
 * the ACTIVE version's row (created as STABLE when the plan had none). The total stays 100.
 */
export function applyRampDowns(
  rows: readonly RampupRow[],
  activeVersion: { version: string; versionId: number },
  decisions: readonly RampDownDecision[],
): RampupRow[] {
  const down = new Set(decisions.map((d) => d.version));
  const moved = decisions.reduce((s, d) => s + d.percentage, 0);
  const out: RampupRow[] = rows.map((r) =>
    down.has(r.version) ? { ...r, percentage: 0, stabilityTag: 'UNSTABLE' as StabilityTag } : { ...r },
  );
  const activeRow = out.find((r) => r.version === activeVersion.version);
  if (activeRow) activeRow.percentage += moved;
  else if (moved > 0) out.push({ ...activeVersion, percentage: moved, stabilityTag: 'STABLE' });
  return out;
}

/** Statuses that end an execution and count for the guard; the failed ones are FAILED and EXECUTION_STOPPED. */
export const GUARD_FINISHED_STATUSES = ['SUCCEEDED', 'FAILED', 'EXECUTION_STOPPED'] as const;
const GUARD_FAILED_STATUSES: ReadonlySet<string> = new Set(['FAILED', 'EXECUTION_STOPPED']);

/** The window outcomes of one image type's versions, from counts per version set and status. */
export function windowOutcomes(
  counts: readonly { versionSetId: number; status: string; n: number }[],
  sets: ReadonlyMap<number, Readonly<Record<string, { version: string }>>>,
  imageType: string,
): Map<string, WindowOutcome> {
  const out = new Map<string, WindowOutcome>();
  for (const c of counts) {
    const entry = sets.get(c.versionSetId)?.[imageType];
    if (!entry) continue;
    const o = out.get(entry.version) ?? { finished: 0, failed: 0 };
    o.finished += c.n;
    if (GUARD_FAILED_STATUSES.has(c.status)) o.failed += c.n;
    out.set(entry.version, o);
  }
  return out;
}
