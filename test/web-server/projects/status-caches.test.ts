import assert from 'node:assert/strict';
import { FlowCache } from '../../../web-server/src/projects/flow-cache.js';
import { PermissionCache } from '../../../web-server/src/projects/permission-cache.js';
import type { FlowDefinition } from '../../../common/dsl/model.js';
import type { PermissionGrant } from '../../../web-server/src/projects/permissions.js';

const READ: PermissionGrant[] = [{ principalType: 'user', principal: 'alice', permissions: ['READ'] }];

const flowNamed = (name: string): FlowDefinition => ({
  name,
  file: `${name}.flow`,
  format: '2.0',
  config: {},
  nodes: [{ name: 'a', type: 'noop', dependsOn: [], config: {} }],
});

describe('PermissionCache', () => {
  it('keys entries by project, username and groups, whatever the order of the groups', () => {
    assert.equal(PermissionCache.keyOf(1, 'alice', ['b', 'a']), PermissionCache.keyOf(1, 'alice', ['a', 'b']));
    const keys = new Set([
      PermissionCache.keyOf(1, 'alice', []),
      PermissionCache.keyOf(2, 'alice', []),
      PermissionCache.keyOf(1, 'bob', []),
      PermissionCache.keyOf(1, 'alice', ['analysts']),
      PermissionCache.keyOf(1, 'alice', ['analysts', 'ops']),
    ]);
    assert.equal(keys.size, 5);
  });

  it('answers an entry for its time to live only', () => {
    const cache = new PermissionCache(1000, 10);
    const key = PermissionCache.keyOf(1, 'alice', []);
    cache.set(key, 1, READ, 5000, cache.generation);
    assert.deepEqual(cache.get(key, 5999), READ);
    assert.equal(cache.get(key, 6000), undefined);
    assert.equal(cache.size, 0);
  });

  it('drops the entries of a project when its permissions change, and only those', () => {
    const cache = new PermissionCache(1000, 10);
    const k1 = PermissionCache.keyOf(1, 'alice', []);
    const k2 = PermissionCache.keyOf(2, 'alice', []);
    cache.set(k1, 1, READ, 0, cache.generation);
    cache.set(k2, 2, READ, 0, cache.generation);
    cache.invalidateProject(1);
    assert.equal(cache.get(k1, 1), undefined);
    assert.deepEqual(cache.get(k2, 1), READ);
  });

  it('does not keep grants read before a change that happened while they were read', () => {
    const cache = new PermissionCache(1000, 10);
    const key = PermissionCache.keyOf(1, 'alice', []);
    const before = cache.generation;
    cache.invalidateProject(1);
    cache.set(key, 1, READ, 0, before);
    assert.equal(cache.get(key, 1), undefined);
  });

  it('holds at most maxEntries, dropping the oldest first', () => {
    const cache = new PermissionCache(1000, 2);
    for (const user of ['a', 'b', 'c']) cache.set(PermissionCache.keyOf(1, user, []), 1, [], 0, cache.generation);
    assert.equal(cache.size, 2);
    assert.equal(cache.get(PermissionCache.keyOf(1, 'a', []), 1), undefined);
    assert.deepEqual(cache.get(PermissionCache.keyOf(1, 'c', []), 1), []);
  });

  it('keeps a frozen copy, so a caller changing the grants it read cannot change the cache', () => {
    const cache = new PermissionCache(1000, 2);
    const key = PermissionCache.keyOf(1, 'alice', []);
    const grants: PermissionGrant[] = [{ principalType: 'user', principal: 'alice', permissions: ['READ'] }];
    cache.set(key, 1, grants, 0, cache.generation);
    grants[0]!.permissions.push('ADMIN');
    assert.deepEqual(cache.get(key, 1), READ);
    assert.ok(Object.isFrozen(cache.get(key, 1)![0]!.permissions));
  });

  it('keeps nothing with a time to live of 0', () => {
    const cache = new PermissionCache(0, 10);
    const key = PermissionCache.keyOf(1, 'alice', []);
    cache.set(key, 1, READ, 0, cache.generation);
    assert.equal(cache.get(key, 0), undefined);
  });
});

describe('FlowCache', () => {
  it('answers a flow by project, version and flow id', () => {
    const cache = new FlowCache(10);
    cache.set(1, 1, 'f', flowNamed('f'));
    assert.equal(cache.get(1, 1, 'f')?.name, 'f');
    assert.equal(cache.get(1, 2, 'f'), undefined);
    assert.equal(cache.get(2, 1, 'f'), undefined);
    assert.equal(cache.get(1, 1, 'g'), undefined);
  });

  it('freezes what it keeps, nested nodes included', () => {
    const cache = new FlowCache(10);
    const flow = cache.set(1, 1, 'f', flowNamed('f'));
    assert.ok(Object.isFrozen(flow));
    assert.ok(Object.isFrozen(flow.nodes[0]!.dependsOn));
    assert.throws(() => flow.nodes.push(flowNamed('x').nodes[0]!), TypeError);
  });

  it('holds at most maxEntries, dropping the least recently used first', () => {
    const cache = new FlowCache(2);
    cache.set(1, 1, 'a', flowNamed('a'));
    cache.set(1, 1, 'b', flowNamed('b'));
    assert.ok(cache.get(1, 1, 'a'));
    cache.set(1, 1, 'c', flowNamed('c'));
    assert.equal(cache.size, 2);
    assert.equal(cache.get(1, 1, 'b'), undefined);
    assert.ok(cache.get(1, 1, 'a'));
    assert.ok(cache.get(1, 1, 'c'));
  });
});
