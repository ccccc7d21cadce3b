import assert from 'node:assert/strict';
import { applyRampDowns, decideRampDowns, windowOutcomes, type RampDownGuard } from '../../image-mgmt/src/ramp-down.js';
import type { RampupRow } from '../../image-mgmt/src/model.js';

const GUARD: RampDownGuard = { minExecutions: 10, maxExcessFailurePercent: 20, windowMs: 3_600_000 };
const ROWS: RampupRow[] = [
  { version: '1.0', versionId: 1, percentage: 70, stabilityTag: 'STABLE' },
  { version: '1.1', versionId: 2, percentage: 30, stabilityTag: 'EXPERIMENTAL' },
];
const outcomes = (o: Record<string, [number, number]>) =>
  new Map(Object.entries(o).map(([v, [finished, failed]]) => [v, { finished, failed }]));

describe('automatic ramp-down decision', () => {
  it('ramps down a version failing more than the allowed points above ACTIVE, with a reason', () => {
    assert.deepEqual(decideRampDowns(ROWS, '1.0', GUARD, outcomes({ '1.0': [20, 2], '1.1': [10, 4] })), [
      {
        version: '1.1',
        percentage: 30,
        ramped: { finished: 10, failed: 4 },
        active: { finished: 20, failed: 2 },
        reason:
          'version 1.1 failed 4 of 10 executions (40%) against 2 of 20 (10%) on ACTIVE version 1.0, more than the 20 points the guard allows',
      },
    ]);
  });

  it('keeps a version whose excess equals the allowed points exactly', () => {
    assert.deepEqual(decideRampDowns(ROWS, '1.0', GUARD, outcomes({ '1.0': [20, 2], '1.1': [10, 3] })), []);
  });

  it('does not judge a version with fewer finished executions than the minimum', () => {
    assert.deepEqual(decideRampDowns(ROWS, '1.0', GUARD, outcomes({ '1.0': [20, 0], '1.1': [9, 9] })), []);
  });

  it('counts an ACTIVE version without executions as a 0% failure rate', () => {
    const d = decideRampDowns(ROWS, '1.0', GUARD, outcomes({ '1.1': [10, 3] }));
    assert.deepEqual(
      d.map((x) => [x.version, x.active]),
      [['1.1', { finished: 0, failed: 0 }]],
    );
  });

  it('skips the ACTIVE row, UNSTABLE rows and 0% rows, and does nothing without an ACTIVE version', () => {
    const rows: RampupRow[] = [
      { version: '1.0', versionId: 1, percentage: 100, stabilityTag: 'STABLE' },
      { version: '1.2', versionId: 3, percentage: 0, stabilityTag: 'EXPERIMENTAL' },
      { version: '1.3', versionId: 4, percentage: 0, stabilityTag: 'UNSTABLE' },
    ];
    const o = outcomes({ '1.0': [10, 10], '1.2': [10, 10], '1.3': [10, 10] });
    assert.deepEqual(decideRampDowns(rows, '1.0', GUARD, o), []);
    assert.deepEqual(decideRampDowns(ROWS, undefined, GUARD, outcomes({ '1.1': [10, 10] })), []);
  });

  it('moves the share to the ACTIVE row, or adds a STABLE ACTIVE row when the plan has none', () => {
    const [d] = decideRampDowns(ROWS, '1.0', GUARD, outcomes({ '1.1': [10, 10] }));
    assert.deepEqual(applyRampDowns(ROWS, { version: '1.0', versionId: 1 }, [d!]), [
      { version: '1.0', versionId: 1, percentage: 100, stabilityTag: 'STABLE' },
      { version: '1.1', versionId: 2, percentage: 0, stabilityTag: 'UNSTABLE' },
    ]);
    assert.deepEqual(applyRampDowns(ROWS.slice(1), { version: '0.9', versionId: 9 }, [{ ...d!, percentage: 30 }]), [
      { version: '1.1', versionId: 2, percentage: 0, stabilityTag: 'UNSTABLE' },
      { version: '0.9', versionId: 9, percentage: 30, stabilityTag: 'STABLE' },
    ]);
  });

  it('sums the window outcomes of one image type per version, failed being FAILED or EXECUTION_STOPPED', () => {
    const sets = new Map<number, Record<string, { version: string }>>([
      [1, { spark: { version: '1.0' }, base: { version: '0.1' } }],
      [2, { spark: { version: '1.1' } }],
      [3, { base: { version: '0.1' } }],
    ]);
    const counts = [
      { versionSetId: 1, status: 'SUCCEEDED', n: 5 },
      { versionSetId: 1, status: 'FAILED', n: 1 },
      { versionSetId: 2, status: 'EXECUTION_STOPPED', n: 2 },
      { versionSetId: 2, status: 'SUCCEEDED', n: 3 },
      { versionSetId: 3, status: 'FAILED', n: 7 },
    ];
    assert.deepEqual(
      windowOutcomes(counts, sets, 'spark'),
      new Map([
        ['1.0', { finished: 6, failed: 1 }],
        ['1.1', { finished: 5, failed: 2 }],
      ]),
    );
  });
});
