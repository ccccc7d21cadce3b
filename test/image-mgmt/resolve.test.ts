import assert from 'node:assert/strict';
import type { RampupRow } from '../../image-mgmt/src/model.js';
import { flowBucket } from '../../image-mgmt/src/ramp-up.js';
import {
  neededImageTypes,
  resolveImageVersion,
  versionOverridesOf,
  type CatalogVersion,
  type Resolution,
  type TypeCatalog,
} from '../../image-mgmt/src/resolve.js';

const V1: CatalogVersion = { id: 1, path: 'reg/spark', version: '1.9', state: 'ACTIVE' };
const V2: CatalogVersion = { id: 2, path: 'reg/spark', version: '1.10', state: 'NEW' };
const V3: CatalogVersion = { id: 3, path: 'reg/spark', version: '1.11', state: 'TEST' };
const V4: CatalogVersion = { id: 4, path: 'reg/spark', version: '1.8', state: 'DEPRECATED' };

const row = (v: CatalogVersion, percentage: number): RampupRow => ({
  version: v.version,
  versionId: v.id,
  percentage,
  stabilityTag: 'EXPERIMENTAL',
});

function catalog(o: Partial<TypeCatalog> = {}): TypeCatalog {
  return {
    imageType: 'spark',
    versions: [V1, V2, V3, V4],
    planRows: [],
    ruleExcludedVersionIds: new Set(),
    highPriorityFlow: false,
    ...o,
  };
}

// flowBucket('p', 'f', 'spark') is 61: a 100 % plan row on 1.10 catches it; 1.9 at 70 then 1.10 at 30 does not.
const BASE = { project: 'p', flow: 'f', allowTestVersion: false };
const ALL_NEW = [row(V2, 100)];

function picked(r: Resolution): [string, string, string] {
  assert.ok(r.ok, r.ok ? '' : r.message);
  return [r.image.version, r.image.reason, r.image.why];
}

describe('version resolution', () => {
  it('uses the fixture bucket the ramp tests rely on', () => {
    assert.equal(flowBucket('p', 'f', 'spark'), 61);
  });

  it('gives the ACTIVE version without a plan', () => {
    assert.deepEqual(picked(resolveImageVersion(catalog(), BASE)), ['1.9', 'active', 'the ACTIVE version']);
  });

  it('gives the plan version whose range holds the flow bucket', () => {
    assert.deepEqual(picked(resolveImageVersion(catalog({ planRows: ALL_NEW }), BASE)), [
      '1.10',
      'ramp-plan',
      'bucket 61 falls in 0..99 of the ramp-up plan (version 1.10)',
    ]);
    // Ascending order: 1.9 owns 0..69, 1.10 owns 70..99; bucket 61 stays on 1.9.
    assert.deepEqual(picked(resolveImageVersion(catalog({ planRows: [row(V2, 30), row(V1, 70)] }), BASE)), [
      '1.9',
      'ramp-plan',
      'bucket 61 falls in 0..69 of the ramp-up plan (version 1.9)',
    ]);
  });

  it('lets an override win over the plan', () => {
    const r = resolveImageVersion(catalog({ planRows: ALL_NEW }), { ...BASE, override: '1.9' });
    assert.deepEqual(picked(r), ['1.9', 'override', 'image.spark.version=1.9 was requested']);
  });

  it('refuses an unknown override version naming the type and version', () => {
    assert.deepEqual(resolveImageVersion(catalog(), { ...BASE, override: '9.9' }), {
      ok: false,
      message: 'image.spark.version: version 9.9 of image type spark is not registered',
    });
  });

  it('refuses an override on a DEPRECATED version', () => {
    assert.deepEqual(resolveImageVersion(catalog(), { ...BASE, override: '1.8' }), {
      ok: false,
      message: 'image.spark.version: version 1.8 of image type spark is DEPRECATED; allowed: NEW, ACTIVE, STABLE',
    });
  });

  it('allows a TEST version only with allow.image.test.version', () => {
    assert.deepEqual(resolveImageVersion(catalog(), { ...BASE, override: '1.11' }), {
      ok: false,
      message:
        'image.spark.version: version 1.11 of image type spark is TEST (TEST versions need allow.image.test.version=true, admin only); allowed: NEW, ACTIVE, STABLE',
    });
    assert.equal(picked(resolveImageVersion(catalog(), { ...BASE, override: '1.11', allowTestVersion: true }))[0], '1.11');
  });

  it('keeps a pinned version over the plan', () => {
    const r = resolveImageVersion(catalog({ planRows: ALL_NEW }), { ...BASE, pinned: { path: 'reg/spark', version: '1.9' } });
    assert.deepEqual(picked(r), ['1.9', 'pinned', 'azkaban.version-set.id pins spark to 1.9']);
  });

  it('re-resolves a pinned version that is no longer runnable and says so', () => {
    const r = resolveImageVersion(catalog(), { ...BASE, pinned: { path: 'reg/spark', version: '1.8' } });
    assert.ok(r.ok);
    assert.equal(r.image.repinned, true);
    assert.deepEqual(picked(r), ['1.9', 'active', 'the pinned version 1.8 is no longer runnable; re-resolved: the ACTIVE version']);
  });

  it('keeps a flow listed in a rule on the ramped version on ACTIVE', () => {
    const r = resolveImageVersion(catalog({ planRows: ALL_NEW, ruleExcludedVersionIds: new Set([2]) }), BASE);
    assert.deepEqual(picked(r), ['1.9', 'ramp-rule', 'a ramp rule on version 1.10 keeps this flow on the ACTIVE version']);
  });

  it('keeps a flow of a high-priority rule off every ramped version', () => {
    const r = resolveImageVersion(catalog({ planRows: ALL_NEW, highPriorityFlow: true }), BASE);
    assert.deepEqual(picked(r), ['1.9', 'ramp-rule', 'a high-priority ramp rule keeps this flow on the ACTIVE version']);
  });

  it('sends a bucket on a version that cannot run to ACTIVE', () => {
    const r = resolveImageVersion(catalog({ planRows: [row(V4, 100)] }), BASE);
    assert.deepEqual(picked(r), ['1.9', 'active', 'bucket 61 falls on a version that cannot run; the ACTIVE version applies']);
  });

  it('fails a type without an ACTIVE version or without any version', () => {
    assert.deepEqual(resolveImageVersion(catalog({ versions: [V2] }), BASE), {
      ok: false,
      message: 'image type spark has no ACTIVE version',
    });
    assert.deepEqual(resolveImageVersion(catalog({ versions: [] }), BASE), {
      ok: false,
      message: 'image type spark has no registered version',
    });
  });

  it('needs the base type, the non-built-in jobtypes and the always-included types, lower-case and sorted', () => {
    assert.deepEqual(neededImageTypes(['command', 'Spark', 'noop', 'flow', 'hive', 'spark'], 'caisson-base', ['Platform']), [
      'caisson-base',
      'hive',
      'platform',
      'spark',
    ]);
  });

  it('reads image.<type>.version overrides by lower-case type', () => {
    assert.deepEqual([...versionOverridesOf({ 'image.Spark.version': '1.2', 'image.version': 'x', other: '1' })], [['spark', '1.2']]);
  });
});
