import assert from 'node:assert/strict';
import { childrenOf, findCycle, findCycles, parentsOf, topologicalOrder } from '../../../common/dsl/graph.js';
import type { GraphNode } from '../../../common/dsl/graph.js';
import { caissonErrorOf } from './dsl-helpers.js';

const n = (name: string, ...dependsOn: string[]): GraphNode => ({ name, dependsOn });

function chain(length: number): GraphNode[] {
  return Array.from({ length }, (_, i) => n(`job${i}`, ...(i === 0 ? [] : [`job${i - 1}`])));
}

describe('flow graph helpers', () => {
  describe('childrenOf and parentsOf', () => {
    it('list children in declaration order and parents as written, without repeats or unknown names', () => {
      const nodes = [n('c', 'a', 'b', 'a'), n('a'), n('b', 'a', 'ghost')];
      assert.deepEqual(
        childrenOf(nodes),
        new Map([
          ['c', []],
          ['a', ['c', 'b']],
          ['b', ['c']],
        ]),
      );
      assert.deepEqual(
        parentsOf(nodes),
        new Map([
          ['c', ['a', 'b']],
          ['a', []],
          ['b', ['a']],
        ]),
      );
    });

    it('use the first declaration of a repeated name', () => {
      assert.deepEqual(
        parentsOf([n('a'), n('b', 'a'), n('a', 'b')]),
        new Map([
          ['a', []],
          ['b', ['a']],
        ]),
      );
    });
  });

  describe('findCycle', () => {
    it('returns null for a DAG', () => {
      assert.equal(findCycle([n('a'), n('b', 'a'), n('c', 'a', 'b')]), null);
      assert.equal(findCycle([]), null);
    });

    it('returns a cycle of two as a closed path in running order', () => {
      assert.deepEqual(findCycle([n('a', 'b'), n('b', 'a')]), ['a', 'b', 'a']);
    });

    it('returns a cycle of three starting at the earliest-declared node', () => {
      // a runs after c, b after a, c after b: a -> b -> c -> a.
      assert.deepEqual(findCycle([n('a', 'c'), n('b', 'a'), n('c', 'b')]), ['a', 'b', 'c', 'a']);
      assert.deepEqual(findCycle([n('c', 'b'), n('b', 'a'), n('a', 'c')]), ['c', 'a', 'b', 'c']);
    });

    it('returns a self-dependency as a path of two equal names', () => {
      assert.deepEqual(findCycle([n('x'), n('a', 'a')]), ['a', 'a']);
    });

    it('is deterministic: the same input always gives the same cycle, a shortest one through its first node', () => {
      const nodes = [n('start'), n('a', 'start', 'd'), n('b', 'a'), n('c', 'b'), n('d', 'c', 'b'), n('e', 'd')];
      const first = findCycle(nodes);
      assert.deepEqual(first, ['a', 'b', 'd', 'a']);
      for (let i = 0; i < 5; i += 1) assert.deepEqual(findCycle(nodes), first);
    });

    it('ignores dependencies on names that are not nodes', () => {
      assert.equal(findCycle([n('a', 'missing')]), null);
    });

    it('finds a cycle closing a 10,000-node chain without exhausting the stack', () => {
      const nodes = chain(10000);
      nodes[0] = n('job0', 'job9999');
      const cycle = findCycle(nodes);
      assert.equal(cycle?.length, 10001);
      assert.equal(cycle?.[0], 'job0');
      assert.equal(cycle?.[1], 'job1');
      assert.equal(cycle?.[10000], 'job0');
    });
  });

  describe('findCycles', () => {
    it('returns one cycle per group of mutually dependent nodes, in declaration order', () => {
      const nodes = [n('x', 'y'), n('a', 'b'), n('y', 'x'), n('b', 'a'), n('free', 'a')];
      assert.deepEqual(findCycles(nodes), [
        ['x', 'y', 'x'],
        ['a', 'b', 'a'],
      ]);
    });
  });

  describe('topologicalOrder', () => {
    it('puts parents first and, among ready nodes, the earliest-declared first', () => {
      assert.deepEqual(topologicalOrder([n('d', 'b', 'c'), n('c', 'a'), n('b', 'a'), n('a'), n('e')]), ['a', 'c', 'b', 'd', 'e']);
    });

    it('orders a 10,000-node chain declared backwards', () => {
      const order = topologicalOrder(chain(10000).reverse());
      assert.equal(order.length, 10000);
      assert.equal(order[0], 'job0');
      assert.equal(order[9999], 'job9999');
    });

    it('throws naming the cycle when there is one', () => {
      const error = caissonErrorOf(() => topologicalOrder([n('a', 'c'), n('b', 'a'), n('c', 'b')]));
      assert.equal(error.code, 'INVALID_FLOW_YAML');
      assert.equal(error.message, 'dependency cycle: a -> b -> c -> a');
    });
  });
});
