/**
 * The scheduling core: given the flow graph, every node's status, the options and whether a cancel
 * was asked for, decides what happens next — jobs to start, running jobs to kill, nodes to mark
 * (embedded flows starting, failing and finishing; jobs CANCELLED or SKIPPED) — and the flow's
 * status. Pure and idempotent: called again with the statuses it produced, it decides nothing new.
 *
 * Azkaban's FlowRunner rules (notes/azkaban-facts.md, "How Azkaban's flow runner decides"):
 * - a node is considered only when all its parents are final, and a member of an embedded flow
 *   only once that flow runs;
 * - then, in this order: disabled → SKIPPED (counts as succeeded); flow being killed → CANCELLED;
 *   flow failing under finishCurrent → CANCELLED; condition not met (its status macro —
 *   `all_success` by default: no parent in the failed group — then its expression on the runtime
 *   parameters of its level, engine/conditions.ts) → CANCELLED; otherwise it runs, as long as fewer than
 *   `maxRunningJobs` jobs run. An embedded flow that is cancelled or skipped takes its nodes along;
 * - a FAILED node makes its flow and every enclosing one FAILED_FINISHING, unless all its children
 *   have a condition other than `all_success` (the failure is handled);
 * - cancelImmediately, once failing, or a cancel request: the flow is KILLING, running jobs are
 *   killed (they end KILLED) and nothing starts any more;
 * - at the end FAILED_FINISHING → FAILED, KILLING → KILLED; otherwise an end node (one without
 *   children) that is FAILED, KILLED or CANCELLED makes the flow KILLED, else it SUCCEEDED. The same
 *   rule finishes each embedded flow once all its nodes are final.
 */
import type { FailureAction } from '../../../common/control-api.js';
import { isJobFinal, type Status } from '../../../common/status.js';
import { evaluateNodeCondition, readCondition } from './conditions.js';
import { descendantsOf, enclosingFlows, nodeOf, type ExecutionGraph, type ExecutionNode } from './execution-graph.js';
import { nodeOutputs } from './job-properties.js';

export interface SchedulingOptions {
  failureAction: FailureAction;
  /** Nested ids disabled for this run. */
  disabled: ReadonlySet<string>;
  /** Most jobs running at once (`plan.numJobThreads`); below 1 counts as 1. */
  maxRunningJobs: number;
}

export interface SchedulingInput {
  graph: ExecutionGraph;
  /** Status of each node; a node missing from the map is READY. */
  statuses: ReadonlyMap<string, Status>;
  options: SchedulingOptions;
  cancelRequested: boolean;
  /** Output parameters of the jobs that succeeded, by nested id (read by conditions). */
  outputs?: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

export interface StatusMark {
  id: string;
  status: Status;
}

export interface SchedulingDecisions {
  /** Jobs to start now, in order; they count as RUNNING from here on. */
  start: string[];
  /** Running jobs to kill; they count as KILLING from here on and end KILLED. */
  kill: string[];
  /** Status changes decided without running anything, in the order decided. */
  mark: StatusMark[];
  /** Lines for the flow log about how nodes were decided. */
  notes: string[];
  /** Outcome of each node condition evaluated in this step (nodes that have one), in order. */
  conditions: ConditionDecision[];
  /** The flow's status once these decisions are applied. */
  flowStatus: Status;
}

export interface ConditionDecision {
  id: string;
  /** The condition as written. */
  condition: string;
  met: boolean;
  /** Why it is not met. */
  reason?: string;
}

/** Statuses in which an embedded flow lets its members run. */
const ACTIVE_FLOW: readonly Status[] = ['RUNNING', 'FAILED_FINISHING', 'KILLING'];
const BUSY_JOB: readonly Status[] = ['RUNNING', 'KILLING', 'QUEUED'];
const END_FAILURE: readonly Status[] = ['FAILED', 'KILLED', 'CANCELLED'];

export function decideNextSteps(input: SchedulingInput): SchedulingDecisions {
  const { graph, options } = input;
  const work = new Map(input.statuses);
  const statusOf = (id: string): Status => work.get(id) ?? 'READY';
  const decisions: SchedulingDecisions = {
    start: [],
    kill: [],
    mark: [],
    notes: [],
    conditions: [],
    flowStatus: 'RUNNING',
  };
  const mark = (id: string, status: Status): void => {
    work.set(id, status);
    decisions.mark.push({ id, status });
  };
  const maxRunning = Math.max(1, Math.floor(options.maxRunningJobs));
  const outputs = input.outputs ?? new Map<string, Readonly<Record<string, string>>>();
  const paramsAt =
    (node: ExecutionNode) =>
    (job: string, param: string): string | undefined => {
      const id = node.flowId === null ? job : `${node.flowId}:${job}`;
      if (!graph.nodes.has(id)) return undefined;
      const values = nodeOutputs({ graph, outputs }, id);
      return Object.prototype.hasOwnProperty.call(values, param) ? values[param] : undefined;
    };

  const isHandledFailure = (node: ExecutionNode): boolean =>
    node.children.length > 0 && node.children.every((c) => readCondition(nodeOf(graph, c).condition).macro !== 'all_success');
  const unhandledFailures = (): ExecutionNode[] =>
    graph.order.map((id) => nodeOf(graph, id)).filter((n) => statusOf(n.id) === 'FAILED' && !isHandledFailure(n));

  let failing = unhandledFailures().length > 0;
  let killing = input.cancelRequested || (failing && options.failureAction === 'cancelImmediately');

  const killRunningJobs = (): void => {
    for (const id of graph.order) {
      if (!nodeOf(graph, id).isFlow && statusOf(id) === 'RUNNING') {
        decisions.kill.push(id);
        work.set(id, 'KILLING');
      }
    }
  };
  if (killing) killRunningJobs();

  let running = graph.order.filter((id) => !nodeOf(graph, id).isFlow && BUSY_JOB.includes(statusOf(id))).length;

  for (let changed = true; changed;) {
    changed = false;

    const failures = unhandledFailures();
    if (failures.length > 0 && !failing) {
      failing = true;
      if (options.failureAction === 'cancelImmediately' && !killing) {
        killing = true;
        killRunningJobs();
      }
    }
    for (const failed of failures) {
      for (const flowId of enclosingFlows(graph, failed.id).reverse()) {
        if (statusOf(flowId) === 'RUNNING') {
          mark(flowId, 'FAILED_FINISHING');
          changed = true;
        }
      }
    }

    for (const id of graph.order) {
      if (statusOf(id) !== 'READY') continue;
      const node = nodeOf(graph, id);
      if (node.flowId !== null && !ACTIVE_FLOW.includes(statusOf(node.flowId))) continue;
      const parentStatuses = node.parents.map(statusOf);
      if (!parentStatuses.every(isJobFinal)) continue;

      const condition = readCondition(node.condition);
      let next: 'run' | 'SKIPPED' | 'CANCELLED';
      let outcome: ConditionDecision | undefined;
      if (options.disabled.has(id)) next = 'SKIPPED';
      else if (killing) next = 'CANCELLED';
      else if (failing && options.failureAction === 'finishCurrent') next = 'CANCELLED';
      else {
        const evaluated = evaluateNodeCondition(condition, parentStatuses, paramsAt(node));
        next = evaluated.met ? 'run' : 'CANCELLED';
        if (condition.text !== undefined) outcome = { id, condition: condition.text, ...evaluated };
      }

      if (next === 'run' && !node.isFlow && running >= maxRunning) continue;
      if (outcome !== undefined) decisions.conditions.push(outcome);
      changed = true;
      if (next !== 'run') {
        if (node.isFlow) for (const inner of descendantsOf(graph, id)) mark(inner, next);
        mark(id, next);
      } else if (node.isFlow) {
        mark(id, 'RUNNING');
      } else {
        decisions.start.push(id);
        work.set(id, 'RUNNING');
        running += 1;
      }
    }

    for (const id of [...graph.order].reverse()) {
      const node = nodeOf(graph, id);
      if (!node.isFlow || !ACTIVE_FLOW.includes(statusOf(id))) continue;
      if (!node.members.every((m) => isJobFinal(statusOf(m)))) continue;
      mark(id, finalFlowStatus(statusOf(id), node.members, graph, statusOf));
      changed = true;
    }
  }

  const allFinal = graph.topLevel.every((id) => isJobFinal(statusOf(id)));
  const current: Status = killing ? 'KILLING' : failing ? 'FAILED_FINISHING' : 'RUNNING';
  decisions.flowStatus = allFinal ? finalFlowStatus(current, graph.topLevel, graph, statusOf) : current;
  return decisions;
}

/** How a flow (the root or an embedded one) whose nodes are all final ends. */
function finalFlowStatus(current: Status, members: readonly string[], graph: ExecutionGraph, statusOf: (id: string) => Status): Status {
  if (current === 'FAILED_FINISHING') return 'FAILED';
  if (current === 'KILLING') return 'KILLED';
  const endFailed = members.some((id) => nodeOf(graph, id).children.length === 0 && END_FAILURE.includes(statusOf(id)));
  return endFailed ? 'KILLED' : 'SUCCEEDED';
}
