/** Per image version execution counts and success rates, aggregated from version sets. Pure. */
import type { VersionSetEntry } from './version-set.js';

export interface VersionStats {
  imageType: string;
  version: string;
  executions: number;
  finished: number;
  succeeded: number;
  failed: number;
  /** succeeded / finished, rounded to 4 decimals; null before any finished execution. */
  successRate: number | null;
}

const SUCCEEDED = new Set(['SUCCEEDED']);
const FAILED = new Set(['FAILED', 'KILLED', 'EXECUTION_STOPPED']);

export function aggregateVersionStats(
  counts: readonly { versionSetId: number; status: string; n: number }[],
  sets: ReadonlyMap<number, Record<string, VersionSetEntry>>,
): VersionStats[] {
  const byKey = new Map<string, VersionStats>();
  for (const c of counts) {
    for (const [imageType, e] of Object.entries(sets.get(c.versionSetId) ?? {})) {
      const key = `${imageType}\n${e.version}`;
      const s = byKey.get(key) ?? { imageType, version: e.version, executions: 0, finished: 0, succeeded: 0, failed: 0, successRate: null };
      s.executions += c.n;
      if (SUCCEEDED.has(c.status)) s.succeeded += c.n;
      if (FAILED.has(c.status)) s.failed += c.n;
      s.finished = s.succeeded + s.failed;
      s.successRate = s.finished === 0 ? null : Math.round((s.succeeded / s.finished) * 10_000) / 10_000;
      byKey.set(key, s);
    }
  }
  return [...byKey.values()].sort((a, b) =>
    a.imageType === b.imageType ? (a.version < b.version ? -1 : 1) : a.imageType < b.imageType ? -1 : 1,
  );
}
