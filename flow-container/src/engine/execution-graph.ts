/**
 * The flow as the scheduler sees it: every node (jobs and embedded flows) flattened under its
 * nested id (`job`, `outer:inner`), with parents and children at its own level and, for an
 * embedded flow, its members. Pure.
 */
import type { FlowDefinition } from '../../../common/dsl/model.js';
import { walkFlowNodes } from '../../../common/dsl/flow-walk.js';

export interface ExecutionNode {
  /** Nested id: `job`, or `outer:inner` inside embedded flow `outer`. */
  readonly id: string;
  /** The node's own name (the last part of the id). */
  readonly name: string;
  /** Jobtype, or `flow` for an embedded flow. */
  readonly type: string;
  readonly isFlow: boolean;
  /** Nested id of the enclosing embedded flow, null at the top level. */
  readonly flowId: string | null;
  /** Nested ids of the nodes this one depends on (same level), in the order written. */
  readonly parents: readonly string[];
  /** Nested ids of the nodes that depend on this one (same level), in declaration order. */
  readonly children: readonly string[];
  /** Embedded flow only: nested ids of its own nodes, in declaration order. */
  readonly members: readonly string[];
  readonly condition: string | undefined;
  readonly config: Readonly<Record<string, string>>;
  /** Flow 1.0: properties from the job's `.properties` files (lowest precedence). */
  readonly inherited?: Readonly<Record<string, string>>;
}

export interface ExecutionGraph {
  /** Every nested id, depth first in declaration order (an embedded flow before its members). */
  readonly order: readonly string[];
  readonly nodes: ReadonlyMap<string, ExecutionNode>;
  /** Nested ids of the top-level nodes. */
  readonly topLevel: readonly string[];
}

interface MutableNode {
  id: string;
  name: string;
  type: string;
  isFlow: boolean;
  flowId: string | null;
  parents: string[];
  children: string[];
  members: string[];
  condition: string | undefined;
  config: Readonly<Record<string, string>>;
  inherited?: Readonly<Record<string, string>>;
}

export function buildExecutionGraph(flow: Pick<FlowDefinition, 'nodes'>): ExecutionGraph {
  const nodes = new Map<string, MutableNode>();
  const order: string[] = [];
  const topLevel: string[] = [];
  for (const { nestedId, node, parentPath } of walkFlowNodes(flow)) {
    if (nodes.has(nestedId)) continue;
    const flowId = parentPath.length === 0 ? null : parentPath.join(':');
    const prefix = flowId === null ? '' : `${flowId}:`;
    nodes.set(nestedId, {
      id: nestedId,
      name: node.name,
      type: node.type,
      isFlow: node.type === 'flow' && node.nodes !== undefined,
      flowId,
      parents: [...new Set(node.dependsOn)].map((name) => prefix + name),
      children: [],
      members: [],
      condition: node.condition,
      config: node.config,
      ...(node.inherited === undefined ? {} : { inherited: node.inherited }),
    });
    order.push(nestedId);
    if (flowId === null) topLevel.push(nestedId);
    else nodes.get(flowId)?.members.push(nestedId);
  }
  for (const id of order) {
    const node = nodes.get(id)!;
    node.parents = node.parents.filter((p) => nodes.has(p) && p !== id);
    for (const p of node.parents) nodes.get(p)!.children.push(id);
  }
  return { order, nodes, topLevel };
}

/** The node, or an error naming the id (a programming error: ids come from the graph). */
export function nodeOf(graph: ExecutionGraph, id: string): ExecutionNode {
  const node = graph.nodes.get(id);
  if (node === undefined) throw new RangeError(`no node "${id}" in the flow`);
  return node;
}

/** Nested ids of the embedded flows enclosing `id`, innermost first. */
export function enclosingFlows(graph: ExecutionGraph, id: string): string[] {
  const out: string[] = [];
  for (let f = nodeOf(graph, id).flowId; f !== null; f = nodeOf(graph, f).flowId) out.push(f);
  return out;
}

/** Nested ids of every node inside embedded flow `id` (members, their members, …), depth first. */
export function descendantsOf(graph: ExecutionGraph, id: string): string[] {
  const out: string[] = [];
  const stack = [...nodeOf(graph, id).members].reverse();
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    out.push(next);
    stack.push(...[...nodeOf(graph, next).members].reverse());
  }
  return out;
}
