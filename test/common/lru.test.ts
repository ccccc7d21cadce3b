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

describe('LruMap with a weight budget', () => {
  const sized = () => new LruMap<string, string>(10, { maxWeight: 10, weigh: (v) => v.length });

  it('drops the least recently used values until the new one fits', () => {
    const m = sized();
    m.set('a', 'aaaa');
    m.set('b', 'bbbb');
    assert.equal(m.totalWeight, 8);
    m.get('a');
    m.set('c', 'cccc'); // 12 > 10: b (least recently used) goes
    assert.equal(m.get('b'), undefined);
    assert.equal(m.get('a'), 'aaaa');
    assert.equal(m.get('c'), 'cccc');
    assert.equal(m.totalWeight, 8);
  });

  it('keeps no value heavier than the whole budget, and accounts replacements and deletions', () => {
    const m = sized();
    m.set('a', 'aaaa');
    m.set('big', 'x'.repeat(11));
    assert.equal(m.get('big'), undefined);
    assert.equal(m.get('a'), 'aaaa');
    m.set('a', 'aaaaaaaa');
    assert.equal(m.totalWeight, 8);
    m.set('a', 'y'.repeat(11)); // too heavy: the old value goes too, nothing stale stays
    assert.equal(m.get('a'), undefined);
    assert.equal(m.totalWeight, 0);
    m.set('b', 'bb');
    m.delete('b');
    assert.equal(m.totalWeight, 0);
    assert.equal(m.size, 0);
  });
});
