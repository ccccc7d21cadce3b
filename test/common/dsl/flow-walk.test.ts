import assert from 'node:assert/strict';
import { collectJobTypes, walkFlowNodes } from '../../../common/dsl/flow2.js';
import type { FlowNode } from '../../../common/dsl/model.js';

const job = (name: string, type: string, nodes?: FlowNode[]): FlowNode => ({
  name,
  type,
  dependsOn: [],
  config: {},
  ...(nodes ? { nodes } : {}),
});

const flow = {
  nodes: [
    job('a', 'command'),
    job('outer', 'flow', [job('x', 'hadoopJava'), job('inner', 'flow', [job('deep', 'noop')]), job('y', 'command')]),
    job('b', 'pig'),
  ],
};

describe('walking a flow', () => {
  it('visits every node depth first in declaration order with its nested id and parent path', () => {
    const visits = [...walkFlowNodes(flow)].map((v) => [v.nestedId, v.node.name, v.parentPath]);
    assert.deepEqual(visits, [
      ['a', 'a', []],
      ['outer', 'outer', []],
      ['outer:x', 'x', ['outer']],
      ['outer:inner', 'inner', ['outer']],
      ['outer:inner:deep', 'deep', ['outer', 'inner']],
      ['outer:y', 'y', ['outer']],
      ['b', 'b', []],
    ]);
  });

  it('walks embedded flows nested 1,000 levels deep', () => {
    let node = job('leaf', 'noop');
    for (let i = 0; i < 1000; i += 1) node = job(`f${i}`, 'flow', [node]);
    const visits = [...walkFlowNodes({ nodes: [node] })];
    assert.equal(visits.length, 1001);
    assert.equal(visits[1000]?.parentPath.length, 1000);
    assert.equal(visits[1000]?.nestedId.split(':').length, 1001);
  });

  it('collects the sorted, unique jobtypes of all jobs, leaving out embedded flow nodes', () => {
    assert.deepEqual(collectJobTypes(flow), ['command', 'hadoopJava', 'noop', 'pig']);
  });
});
