import assert from 'node:assert/strict';
import { canonicalVersionSetJson, parseVersionSetBody, versionSetHash } from '../../image-mgmt/src/version-set.js';

describe('version sets', () => {
  it('serializes types sorted with image reference and version only', () => {
    const json = canonicalVersionSetJson({
      spark: { path: 'reg/jobtypes/spark', version: '1.10' },
      'caisson-base': { path: 'caisson-base', version: '0.0.0' },
    });
    assert.equal(
      json,
      '{"caisson-base":{"image":"caisson-base:0.0.0","version":"0.0.0"},"spark":{"image":"reg/jobtypes/spark:1.10","version":"1.10"}}',
    );
  });

  it('hashes equal sets equally whatever the insertion order', () => {
    const a = canonicalVersionSetJson({ a: { path: 'x', version: '1' }, b: { path: 'y', version: '2' } });
    const b = canonicalVersionSetJson({ b: { path: 'y', version: '2' }, a: { path: 'x', version: '1' } });
    assert.equal(versionSetHash(a), versionSetHash(b));
    assert.equal(versionSetHash('{}'), '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
  });

  it('reads a stored body back into paths and versions', () => {
    const json = canonicalVersionSetJson({ spark: { path: 'reg:5000/spark', version: '1.2' } });
    assert.deepEqual(parseVersionSetBody(json), { spark: { path: 'reg:5000/spark', version: '1.2' } });
  });
});
