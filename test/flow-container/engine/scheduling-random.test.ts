import assert from 'node:assert/strict';
import { FAILURE_ACTIONS, type FailureAction } from '../../../common/control-api.js';
import { CONDITION_MACROS } from '../../../common/dsl/condition.js';
import type { FlowNode } from '../../../common/dsl/model.js';
import { isFlowFinal, isJobFinal, type Status } from '../../../common/status.js';
import { buildExecutionGraph, nodeOf } from '../../../flow-container/src/engine/execution-graph.js';
import { decideNextSteps } from '../../../flow-container/src/engine/scheduling.js';

/** A small deterministic PRNG (mulberry32) so a failing seed can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generateLevel(rand: () => number, prefix: string, depth: number): FlowNode[] {
  const count = 1 + Math.floor(rand() * 6);
  const nodes: FlowNode[] = [];
  for (let i = 0; i < count; i += 1) {
    const name = `${prefix}n${i}`;
    const dependsOn = nodes.filter(() => rand() < 0.4).map((n) => n.name);
    const condition = rand() < 0.35 ? CONDITION_MACROS[Math.floor(rand() * CONDITION_MACROS.length)] : undefined;
    const embedded = depth < 2 && rand() < 0.15;
    nodes.push({
      name,
      type: embedded ? 'flow' : 'command',
      dependsOn,
      config: {},
      ...(condition === undefined ? {} : { condition }),
      ...(embedded ? { nodes: generateLevel(rand, `${name}_`, depth + 1) } : {}),
    });
  }
  return nodes;
}

describe('the scheduling core on generated flows', () => {
  it('keeps its invariants on 500 random DAGs, failure actions, outcomes and cancels', () => {
    for (let seed = 1; seed <= 500; seed += 1) {
      const rand = random(seed);
      const graph = buildExecutionGraph({ nodes: generateLevel(rand, '', 0) });
      const failureAction: FailureAction = FAILURE_ACTIONS[Math.floor(rand() * FAILURE_ACTIONS.length)] ?? 'finishCurrent';
      const disabled = new Set(graph.order.filter(() => rand() < 0.05));
      const cancelAt = rand() < 0.1 ? Math.floor(rand() * 6) : -1;
      const statuses = new Map<string, Status>();
      let cancelRequested = false;
      let flowStatus: Status = 'RUNNING';
      const context = `seed ${seed}`;

      for (let round = 0; ; round += 1) {
        assert.ok(round < 1000, `${context}: the run does not end`);
        if (round === cancelAt) cancelRequested = true;
        const d = decideNextSteps({ graph, statuses, options: { failureAction, disabled, maxRunningJobs: 3 }, cancelRequested });
        for (const { id, status } of d.mark) statuses.set(id, status);
        for (const id of d.start) {
          const node = nodeOf(graph, id);
          for (const p of node.parents)
            assert.ok(isJobFinal(statuses.get(p) ?? 'READY'), `${context}: ${id} started before its parent ${p} was final`);
          if (node.flowId !== null) {
            assert.ok(
              ['RUNNING', 'FAILED_FINISHING'].includes(statuses.get(node.flowId) ?? ''),
              `${context}: ${id} started outside a running flow`,
            );
          }
          statuses.set(id, 'RUNNING');
        }
        for (const id of d.kill) statuses.set(id, 'KILLING');
        const running = [...statuses]
          .filter(([id, s]) => !nodeOf(graph, id).isFlow && (s === 'RUNNING' || s === 'KILLING'))
          .map(([id]) => id);
        assert.ok(running.length <= 3, `${context}: more than maxRunningJobs jobs run`);
        flowStatus = d.flowStatus;
        if (running.length === 0) {
          assert.ok(isFlowFinal(flowStatus), `${context}: nothing runs but the flow is ${flowStatus}`);
          break;
        }
        const id = running[Math.floor(rand() * running.length)] ?? '';
        const killed = statuses.get(id) === 'KILLING';
        statuses.set(id, killed ? 'KILLED' : rand() < 0.25 ? 'FAILED' : 'SUCCEEDED');
      }

      assert.ok(['SUCCEEDED', 'FAILED', 'KILLED'].includes(flowStatus), `${context}: the flow ended ${flowStatus}`);
      for (const id of graph.order) assert.ok(isJobFinal(statuses.get(id) ?? 'READY'), `${context}: ${id} never reached a final status`);
      const failed = graph.order.filter((id) => statuses.get(id) === 'FAILED' && !nodeOf(graph, id).isFlow);
      const unhandled = failed.filter((id) => {
        const children = nodeOf(graph, id).children;
        return children.length === 0 || children.some((c) => (nodeOf(graph, c).condition ?? 'all_success') === 'all_success');
      });
      if (cancelRequested) assert.notEqual(flowStatus, 'SUCCEEDED', `${context}: a cancelled run succeeded`);
      if (unhandled.length > 0) {
        const expected = failureAction === 'cancelImmediately' || cancelRequested ? 'KILLED' : 'FAILED';
        if (!cancelRequested || flowStatus !== 'FAILED') assert.equal(flowStatus, expected, `${context}: ${unhandled.join(', ')} failed`);
      }
      if (flowStatus === 'SUCCEEDED') {
        for (const id of graph.topLevel) {
          if (nodeOf(graph, id).children.length === 0) {
            assert.ok(
              ['SUCCEEDED', 'SKIPPED'].includes(statuses.get(id) ?? ''),
              `${context}: end node ${id} is ${statuses.get(id)} in a successful flow`,
            );
          }
        }
      }
    }
  });
});
