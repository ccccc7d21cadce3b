/** Azkaban's fetchflowgraph view of a flow: nodes sorted by id, `in` = direct parents (sorted). */
import type { FlowDefinition, FlowNode } from '../../../common/dsl/model.js';

export interface GraphNode {
  id: string;
  type: string;
  in?: string[];
  flowId?: string;
  flow?: string;
  nodes?: GraphNode[];
}

function graphOf(nodes: readonly FlowNode[], flowId: string): GraphNode[] {
  return [...nodes]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((n) => {
      const g: GraphNode = { id: n.name, type: n.type };
      if (n.dependsOn.length > 0) g.in = [...n.dependsOn].sort();
      if (n.type === 'flow' && n.nodes) {
        const embeddedId = `${flowId}:${n.name}`;
        g.flowId = embeddedId;
        g.flow = embeddedId;
        g.nodes = graphOf(n.nodes, embeddedId);
      }
      return g;
    });
}

export function flowGraph(flow: FlowDefinition): GraphNode[] {
  return graphOf(flow.nodes, flow.name);
}
