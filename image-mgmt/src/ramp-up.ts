/**
 * Ramp-up selection (DESIGN §5), pure. The bucket of a flow for an image type is a public contract:
 * the first 4 bytes of SHA-256(`<project>\n<flow>\n<imageType>`) read as an unsigned big-endian
 * integer, mod 100. Changing it reshuffles every canary.
 */
import crypto from 'node:crypto';
import type { RampupRow } from './model.js';
import { compareVersions } from './version.js';

/** The flow's bucket (0..99) for one image type; `imageType` is the stored, lower-case name. */
export function flowBucket(project: string, flow: string, imageType: string): number {
  const digest = crypto.createHash('sha256').update(`${project}\n${flow}\n${imageType}`, 'utf8').digest();
  return digest.readUInt32BE(0) % 100;
}

export interface RampRange {
  version: string;
  versionId: number;
  /** Inclusive lower bound. */
  from: number;
  /** Exclusive upper bound. */
  to: number;
}

/**
 * The ranges the plan's rows own: rows with a non-zero share, in ascending version order, take
 * consecutive ranges from 0 upward. Buckets past the last range belong to no row (→ ACTIVE).
 */
export function rampRanges(rows: readonly RampupRow[]): RampRange[] {
  const sorted = rows.filter((r) => r.percentage > 0).sort((a, b) => compareVersions(a.version, b.version));
  const ranges: RampRange[] = [];
  let from = 0;
  for (const r of sorted) {
    ranges.push({ version: r.version, versionId: r.versionId, from, to: from + r.percentage });
    from += r.percentage;
  }
  return ranges;
}

/** The range a bucket falls in, or undefined. */
export function rangeOfBucket(ranges: readonly RampRange[], bucket: number): RampRange | undefined {
  return ranges.find((r) => bucket >= r.from && bucket < r.to);
}
