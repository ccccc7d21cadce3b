import assert from 'node:assert/strict';
import type { FlowNode } from '../../../common/dsl/model.js';
import type { Status } from '../../../common/status.js';
import { buildExecutionGraph } from '../../../flow-container/src/engine/execution-graph.js';
import { failedJobsToRetry } from '../../../flow-container/src/engine/failed-job-retry.js';

const node = (name: string, dependsOn: string[] = [], nodes?: FlowNode[]): FlowNode => ({
  name,
  type: nodes ? 'flow' : 'command',
  dependsOn,
  config: {},
  ...(nodes ? { nodes } : {}),
});

describe('retryFailedJobs: the nodes set back', () => {
  const graph = buildExecutionGraph({
    nodes: [node('a'), node('b', ['a']), node('c'), node('inner', [], [node('x'), node('y', ['x'])]), node('last', ['b', 'c', 'inner'])],
  });

  it('sets back failed, killed and cancelled nodes and reopens failing embedded flows', () => {
    const statuses = new Map<string, Status>([
      ['a', 'FAILED'],
      ['b', 'CANCELLED'],
      ['c', 'RUNNING'],
      ['inner', 'FAILED_FINISHING'],
      ['inner:x', 'SUCCEEDED'],
      ['inner:y', 'KILLED'],
    ]);
    assert.deepEqual(failedJobsToRetry(graph, statuses), { reset: ['a', 'b', 'inner:y'], reopen: ['inner'] });
  });

  it('sets back an embedded flow that already failed together with its failed members', () => {
    const statuses = new Map<string, Status>([
      ['a', 'SUCCEEDED'],
      ['b', 'SUCCEEDED'],
      ['c', 'RUNNING'],
      ['inner', 'FAILED'],
      ['inner:x', 'FAILED'],
      ['inner:y', 'CANCELLED'],
    ]);
    assert.deepEqual(failedJobsToRetry(graph, statuses), { reset: ['inner', 'inner:x', 'inner:y'], reopen: [] });
  });

  it('sets back nothing when no job failed (cancelled nodes alone are not a failure to retry)', () => {
    assert.deepEqual(failedJobsToRetry(graph, new Map<string, Status>([['a', 'RUNNING']])), { reset: [], reopen: [] });
    assert.deepEqual(
      failedJobsToRetry(
        graph,
        new Map<string, Status>([
          ['a', 'SUCCEEDED'],
          ['b', 'CANCELLED'],
        ]),
      ),
      { reset: [], reopen: [] },
    );
  });
});
