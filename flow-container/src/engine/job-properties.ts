/**
 * Which properties a job sees, as layers searched in order (common/dsl/properties.ts). Pure.
 *
 * Precedence, highest first:
 *   1. built-ins (`azkaban.flow.execid`, `azkaban.job.id`, …): they describe this run and cannot be
 *      overridden;
 *   2. the flow parameters of the run (`plan.flowParams`: submit overrides over `param.override.*`);
 *   3. the job's own `config:`;
 *   4. output parameters of the job's parents (a later parent over an earlier one; an embedded flow
 *      parent passes on the outputs of its end nodes);
 *   5. for each enclosing embedded flow, innermost first: its `config:`, then its parents' outputs;
 *   6. the flow's `config:`.
 */
import type { ExecutionPlan } from '../../../common/control-api.js';
import type { PropertyLayer } from '../../../common/dsl/properties.js';
import { nodeOf, type ExecutionGraph } from './execution-graph.js';

export interface JobPropertySources {
  graph: ExecutionGraph;
  flowConfig: PropertyLayer;
  flowParams: PropertyLayer;
  /** Built-ins shared by every job of the run (see {@link flowBuiltins}). */
  builtins: PropertyLayer;
  /** Output parameters of finished jobs, by nested id. */
  outputs: ReadonlyMap<string, PropertyLayer>;
}

/** Azkaban's built-in flow properties for this run. */
export function flowBuiltins(
  plan: Pick<ExecutionPlan, 'execId' | 'flowId' | 'projectName' | 'projectVersion' | 'submitUser'>,
  flowStartTime: number,
): Record<string, string> {
  return {
    'azkaban.flow.execid': String(plan.execId),
    'azkaban.flow.flowid': plan.flowId,
    'azkaban.flow.projectname': plan.projectName,
    'azkaban.flow.projectversion': String(plan.projectVersion),
    'azkaban.flow.submituser': plan.submitUser,
    'azkaban.flow.start.timestamp': new Date(flowStartTime).toISOString(),
  };
}

export function jobPropertyLayers(sources: JobPropertySources, jobId: string): PropertyLayer[] {
  const { graph } = sources;
  const job = nodeOf(graph, jobId);
  const layers: PropertyLayer[] = [
    { ...sources.builtins, 'azkaban.job.id': job.name },
    sources.flowParams,
    job.config,
    parentOutputs(sources, jobId),
  ];
  for (let flowId = job.flowId; flowId !== null; flowId = nodeOf(graph, flowId).flowId) {
    layers.push(nodeOf(graph, flowId).config, parentOutputs(sources, flowId));
  }
  layers.push(sources.flowConfig);
  return layers;
}

/** The output parameters a node passes to its children: a job's own; an embedded flow's end nodes'. */
export function nodeOutputs(sources: JobPropertySources, id: string): Record<string, string> {
  const node = nodeOf(sources.graph, id);
  if (!node.isFlow) return { ...(sources.outputs.get(id) ?? {}) };
  const merged: Record<string, string> = {};
  for (const member of node.members) {
    if (nodeOf(sources.graph, member).children.length === 0) Object.assign(merged, nodeOutputs(sources, member));
  }
  return merged;
}

function parentOutputs(sources: JobPropertySources, id: string): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const parent of nodeOf(sources.graph, id).parents) Object.assign(merged, nodeOutputs(sources, parent));
  return merged;
}
