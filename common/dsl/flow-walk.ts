/** Walks a parsed flow, embedded flows included; pure reads over the model. */
import type { FlowDefinition, FlowNode } from './model.js';

export interface FlowNodeVisit {
  /** Id relative to the flow, Azkaban's `nestedId`: `jobA`, or `outer:inner` inside embedded flow `outer`. */
  nestedId: string;
  node: FlowNode;
  /** Names of the embedded flows containing the node, outermost first ([] at the top level); shared between siblings. */
  parentPath: readonly string[];
}

interface Frame {
  nodes: readonly FlowNode[];
  next: number;
  path: readonly string[];
  /** `outer:inner:` for nodes of this level, '' at the top. */
  prefix: string;
}

/**
 * Every node of the flow in declaration order, each embedded flow node followed by its own nodes
 * (depth first, pre-order). Iterative, so deep nesting cannot exhaust the stack.
 */
export function* walkFlowNodes(flow: Pick<FlowDefinition, 'nodes'>): Generator<FlowNodeVisit> {
  const stack: Frame[] = [{ nodes: flow.nodes, next: 0, path: [], prefix: '' }];
  for (let top = stack.at(-1); top !== undefined; top = stack.at(-1)) {
    const node = top.nodes[top.next];
    if (node === undefined) {
      stack.pop();
      continue;
    }
    top.next += 1;
    const nestedId = top.prefix + node.name;
    yield { nestedId, node, parentPath: top.path };
    if (node.nodes !== undefined && node.nodes.length > 0) {
      stack.push({ nodes: node.nodes, next: 0, path: [...top.path, node.name], prefix: `${nestedId}:` });
    }
  }
}

/** The jobtypes a flow needs: sorted, unique `type`s of all its jobs, embedded flows' jobs included. */
export function collectJobTypes(flow: Pick<FlowDefinition, 'nodes'>): string[] {
  const types = new Set<string>();
  for (const { node } of walkFlowNodes(flow)) {
    if (node.type !== 'flow') types.add(node.type);
  }
  return [...types].sort();
}
