import assert from 'node:assert/strict';
import { compareVersions, isValidVersion, parseVersion, versionKey } from '../../image-mgmt/src/version.js';

describe('image versions', () => {
  it('accepts 1 to 4 dot-separated non-negative integers', () => {
    assert.deepEqual(parseVersion('0'), [0]);
    assert.deepEqual(parseVersion('1.2'), [1, 2]);
    assert.deepEqual(parseVersion('1.10.0.7'), [1, 10, 0, 7]);
  });

  it('refuses empty parts, five parts, signs, leading zeros, letters and parts over 9 digits', () => {
    for (const bad of ['', '1.', '.1', '1..2', '1.2.3.4.5', '-1', '01', '1.02', '1.2a', 'v1', '1234567890', '1.2 ']) {
      assert.equal(isValidVersion(bad), false, bad);
    }
  });

  it('compares numerically, never as strings (1.10 > 1.9)', () => {
    assert.equal(compareVersions('1.10', '1.9'), 1);
    assert.equal(compareVersions('1.9', '1.10'), -1);
    assert.equal(compareVersions('2.0.0', '10.0.0'), -1);
    assert.equal(compareVersions('1.2.3', '1.2.3'), 0);
  });

  it('orders a version before its longer extension (1.2 < 1.2.0)', () => {
    assert.equal(compareVersions('1.2', '1.2.0'), -1);
    assert.equal(compareVersions('1.2.0', '1.2'), 1);
  });

  it('builds version keys that sort as strings exactly like compareVersions', () => {
    assert.equal(versionKey('1.10'), '000000001.000000010');
    const versions = ['1.9', '1.10', '1.2.0', '1.2', '0.0.0', '10', '2.0.0.1', '1.10.0'];
    const byKey = [...versions].sort((a, b) => (versionKey(a) < versionKey(b) ? -1 : versionKey(a) > versionKey(b) ? 1 : 0));
    const byCompare = [...versions].sort(compareVersions);
    assert.deepEqual(byKey, byCompare);
    assert.deepEqual(byCompare, ['0.0.0', '1.2', '1.2.0', '1.9', '1.10', '1.10.0', '2.0.0.1', '10']);
  });
});
