import assert from 'node:assert/strict';
import type { FailureAction } from '../../../common/control-api.js';
import type { FlowNode } from '../../../common/dsl/model.js';
import type { Status } from '../../../common/status.js';
import { evaluateNodeCondition, readCondition } from '../../../flow-container/src/engine/conditions.js';
import { buildExecutionGraph, type ExecutionGraph } from '../../../flow-container/src/engine/execution-graph.js';
import { decideNextSteps, type SchedulingDecisions } from '../../../flow-container/src/engine/scheduling.js';

const node = (name: string, dependsOn: string[] = [], condition?: string, nodes?: FlowNode[]): FlowNode => ({
  name,
  type: nodes === undefined ? 'command' : 'flow',
  dependsOn,
  config: {},
  ...(condition === undefined ? {} : { condition }),
  ...(nodes === undefined ? {} : { nodes }),
});

/** A run under test that also keeps the jobs' outputs. */
class Run {
  readonly graph: ExecutionGraph;
  readonly statuses = new Map<string, Status>();
  readonly outputs = new Map<string, Record<string, string>>();

  constructor(
    nodes: FlowNode[],
    private readonly failureAction: FailureAction = 'finishCurrent',
  ) {
    this.graph = buildExecutionGraph({ nodes });
  }

  step(): SchedulingDecisions {
    const d = decideNextSteps({
      graph: this.graph,
      statuses: this.statuses,
      options: { failureAction: this.failureAction, disabled: new Set(), maxRunningJobs: 10 },
      cancelRequested: false,
      outputs: this.outputs,
    });
    for (const { id, status } of d.mark) this.statuses.set(id, status);
    for (const id of d.start) this.statuses.set(id, 'RUNNING');
    return d;
  }

  end(id: string, status: Status, outputs?: Record<string, string>): SchedulingDecisions {
    this.statuses.set(id, status);
    if (outputs !== undefined) this.outputs.set(id, outputs);
    return this.step();
  }
}

describe('conditions in the scheduling core', () => {
  it('runs the branch whose condition on the parent’s output holds and cancels the other (Azkaban’s sample)', () => {
    const run = new Run([
      node('JobA'),
      node('JobB', ['JobA'], '${JobA:param1} == 1'),
      node('JobC', ['JobA'], '${JobA:param1} == 2'),
      node('JobD', ['JobB', 'JobC'], 'one_success'),
    ]);
    assert.deepEqual(run.step().start, ['JobA']);
    const d = run.end('JobA', 'SUCCEEDED', { param1: '1' });
    assert.deepEqual(d.start, ['JobB']);
    assert.deepEqual(d.mark, [{ id: 'JobC', status: 'CANCELLED' }]);
    assert.deepEqual(d.conditions, [
      { id: 'JobB', condition: '${JobA:param1} == 1', met: true },
      { id: 'JobC', condition: '${JobA:param1} == 2', met: false, reason: 'its condition "${JobA:param1} == 2" is false' },
    ]);
    assert.equal(d.flowStatus, 'RUNNING', 'a cancelled job is not a failure');
    const last = run.end('JobB', 'SUCCEEDED');
    assert.deepEqual(last.start, ['JobD']);
    assert.deepEqual(run.end('JobD', 'SUCCEEDED').flowStatus, 'SUCCEEDED');
  });

  it('cancels when the macro fails even if the expression would hold', () => {
    const run = new Run([node('a'), node('b', ['a'], 'one_failed || ${a:x} == 1')]);
    run.step();
    const d = run.end('a', 'SUCCEEDED', { x: '1' });
    assert.deepEqual(d.mark, [{ id: 'b', status: 'CANCELLED' }]);
    assert.deepEqual(d.conditions[0]?.reason, 'the status macro one_failed does not hold for its parents');
  });

  it('runs an all_done child of a failed job when its expression holds; the failure is handled', () => {
    const run = new Run([node('a'), node('b'), node('c', ['a', 'b'], 'all_done && ${b:ok} == "yes"')]);
    run.step();
    run.end('b', 'SUCCEEDED', { ok: 'yes' });
    const d = run.end('a', 'FAILED');
    assert.deepEqual(d.start, ['c']);
    assert.equal(d.flowStatus, 'RUNNING');
  });

  it('names the missing parameter when the condition is false for want of it', () => {
    const run = new Run([node('a'), node('b', ['a'], '${a:x} > 3')]);
    run.step();
    const d = run.end('a', 'SUCCEEDED');
    assert.deepEqual(d.conditions[0]?.reason, 'its condition "${a:x} > 3" is false (no value for ${a:x})');
  });

  it('lets dependents of a cancelled node evaluate their own conditions', () => {
    const run = new Run([node('a'), node('b', ['a'], '${a:x} == 1'), node('c', ['b'], 'all_done'), node('d', ['b'])]);
    run.step();
    const d = run.end('a', 'SUCCEEDED', { x: '0' });
    assert.deepEqual(d.mark, [
      { id: 'b', status: 'CANCELLED' },
      { id: 'd', status: 'CANCELLED' },
    ]);
    assert.deepEqual(d.start, ['c']);
  });

  it('reads parameters of a sibling inside an embedded flow, and an embedded flow’s condition reads its parents', () => {
    const run = new Run([
      node('a'),
      node('e', ['a'], '${a:go} == "yes"', [node('x'), node('y', ['x'], '${x:n} >= 2')]),
      node('f', ['a'], '${a:go} == "no"', [node('z')]),
    ]);
    run.step();
    const d = run.end('a', 'SUCCEEDED', { go: 'yes' });
    assert.deepEqual(d.start, ['e:x']);
    assert.deepEqual(d.mark, [
      { id: 'e', status: 'RUNNING' },
      { id: 'f:z', status: 'CANCELLED' },
      { id: 'f', status: 'CANCELLED' },
    ]);
    const next = run.end('e:x', 'SUCCEEDED', { n: '2' });
    assert.deepEqual(next.start, ['e:y']);
  });

  it('reads the outputs of an embedded flow parent from its end nodes', () => {
    const run = new Run([node('e', [], undefined, [node('x')]), node('b', ['e'], '${e:n} == 5')]);
    run.step();
    const d = run.end('e:x', 'SUCCEEDED', { n: '5' });
    assert.deepEqual(d.start, ['b']);
  });

  it('cancels a node whose condition does not parse, saying why', () => {
    const outcome = evaluateNodeCondition(readCondition('all_done &&'), [], () => undefined);
    assert.deepEqual(outcome, {
      met: false,
      reason: 'its condition is invalid: expected a value, found the end of the condition at character 12',
    });
  });
});
