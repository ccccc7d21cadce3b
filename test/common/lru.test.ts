import assert from 'node:assert/strict';
import { LruMap } from '../../common/lru.js';

describe('LruMap', () => {
  it('keeps at most maxEntries, dropping the least recently used first', () => {
    const m = new LruMap<string, number>(2);
    m.set('a', 1);
    m.set('b', 2);
    assert.equal(m.get('a'), 1); // a is now the most recently used
    m.set('c', 3);
    assert.equal(m.get('b'), undefined);
    assert.equal(m.get('a'), 1);
    assert.equal(m.get('c'), 3);
    assert.equal(m.size, 2);
  });

  it('replaces a key without growing, deletes, and keeps nothing with no room', () => {
    const m = new LruMap<string, number>(2);
    m.set('a', 1);
    m.set('a', 2);
    assert.equal(m.size, 1);
    assert.equal(m.get('a'), 2);
    m.delete('a');
    assert.equal(m.get('a'), undefined);
    const none = new LruMap<string, number>(0);
    none.set('a', 1);
    assert.equal(none.get('a'), undefined);
  });
});
