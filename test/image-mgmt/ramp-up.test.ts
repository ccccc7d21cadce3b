import assert from 'node:assert/strict';
import { flowBucket, rampRanges, rangeOfBucket } from '../../image-mgmt/src/ramp-up.js';
import type { RampupRow } from '../../image-mgmt/src/model.js';

const row = (version: string, percentage: number, versionId = 0): RampupRow => ({
  version,
  versionId,
  percentage,
  stabilityTag: 'EXPERIMENTAL',
});

/** Picks the version for a bucket under a plan, or 'ACTIVE'. */
function versionFor(rows: RampupRow[], bucket: number): string {
  return rangeOfBucket(rampRanges(rows), bucket)?.version ?? 'ACTIVE';
}

describe('ramp-up buckets and ranges', () => {
  it('derives the bucket from the first 4 bytes of SHA-256("<project>\\n<flow>\\n<imageType>") mod 100', () => {
    // sha256("p\nf\nspark") starts with d0789abd = 3497564861.
    assert.equal(flowBucket('p', 'f', 'spark'), 3497564861 % 100);
    assert.equal(flowBucket('p', 'f', 'spark'), 61);
    assert.equal(flowBucket('p', 'f', 'caisson-base'), 7);
    assert.equal(flowBucket('proj', 'daily', 'spark'), 76);
  });

  it('gives non-zero rows consecutive ranges from 0 in ascending version order, whatever the row order', () => {
    const ranges = rampRanges([row('1.10', 30, 2), row('1.9', 70, 1), row('1.8', 0, 3)]);
    assert.deepEqual(ranges, [
      { version: '1.9', versionId: 1, from: 0, to: 70 },
      { version: '1.10', versionId: 2, from: 70, to: 100 },
    ]);
  });

  it('leaves buckets past the last range to the ACTIVE version', () => {
    const rows = [row('1.0', 40), row('2.0', 0)];
    assert.equal(versionFor(rows, 39), '1.0');
    assert.equal(versionFor(rows, 40), 'ACTIVE');
  });

  it('spreads 2,000 flows within 3 points of a 30/70 plan', () => {
    const rows = [row('2.0', 30), row('1.0', 70)];
    let onNew = 0;
    for (let i = 0; i < 2000; i++) if (versionFor(rows, flowBucket('proj', `flow-${i}`, 'spark')) === '2.0') onNew++;
    const share = (onNew / 2000) * 100;
    assert.ok(Math.abs(share - 30) <= 3, `share on the new version was ${share}%`);
  });

  it('moves only flows from the old version to the new one when 30/70 becomes 50/50', () => {
    const before = [row('2.0', 30), row('1.0', 70)];
    const after = [row('2.0', 50), row('1.0', 50)];
    let moved = 0;
    for (let i = 0; i < 2000; i++) {
      const b = flowBucket('proj', `flow-${i}`, 'spark');
      const was = versionFor(before, b);
      const now = versionFor(after, b);
      if (was !== now) {
        assert.deepEqual([was, now], ['1.0', '2.0']);
        moved++;
      }
    }
    assert.ok(moved > 300 && moved < 500, `moved ${moved}`);
  });

  it('gives two image types under the same plan visibly different slices of flows', () => {
    const rows = [row('2.0', 30), row('1.0', 70)];
    let differ = 0;
    for (let i = 0; i < 2000; i++) {
      const a = versionFor(rows, flowBucket('proj', `flow-${i}`, 'spark'));
      const b = versionFor(rows, flowBucket('proj', `flow-${i}`, 'hive'));
      if (a !== b) differ++;
    }
    // Independent 30% slices disagree on about 2·0.3·0.7 = 42% of flows.
    assert.ok(differ > 700, `only ${differ} of 2000 flows differ`);
  });
});
