/**
 * Which properties a job sees, as layers searched in order (common/dsl/properties.ts). Pure.
 *
 * Precedence, highest first:
 *   1. built-ins (`azkaban.flow.execid`, `azkaban.job.id`, `azkaban.job.attempt`, …): they describe
 *      this run and cannot be overridden;
 *   2. the flow parameters of the run (`plan.flowParams`: submit overrides over `param.override.*`);
 *   3. the job's own `config:`;
 *   4. output parameters of the job's parents (a later parent over an earlier one; an embedded flow
 *      parent passes on the outputs of its end nodes);
 *   5. for each enclosing embedded flow, innermost first: its `config:`, then its parents' outputs;
 *   6. the flow's `config:`;
 *   7. Flow 1.0 only: the job's `.properties` files (`inherited`), nearest directory first.
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

/**
 * Azkaban's built-in flow properties for this run (docs/jobTypes.rst, "Built-in properties"). The
 * start time is given in UTC (`azkaban.flow.start.timezone` says so); `azkaban.flow.uuid` is the
 * caller's (random per run). `azkaban.job.id` and `azkaban.job.attempt` are added per job.
 */
export function flowBuiltins(
  plan: Pick<ExecutionPlan, 'execId' | 'flowId' | 'projectName' | 'projectVersion' | 'submitUser'> &
    Partial<Pick<ExecutionPlan, 'projectId'>>,
  flowStartTime: number,
  uuid?: string,
): Record<string, string> {
  const start = new Date(flowStartTime);
  const two = (n: number): string => String(n).padStart(2, '0');
  const builtins: Record<string, string> = {
    'azkaban.flow.execid': String(plan.execId),
    'azkaban.flow.flowid': plan.flowId,
    'azkaban.flow.projectname': plan.projectName,
    'azkaban.flow.projectversion': String(plan.projectVersion),
    'azkaban.flow.submituser': plan.submitUser,
    'azkaban.flow.start.timestamp': start.toISOString(),
    'azkaban.flow.start.year': String(start.getUTCFullYear()),
    'azkaban.flow.start.month': two(start.getUTCMonth() + 1),
    'azkaban.flow.start.day': two(start.getUTCDate()),
    'azkaban.flow.start.hour': two(start.getUTCHours()),
    'azkaban.flow.start.minute': two(start.getUTCMinutes()),
    'azkaban.flow.start.second': two(start.getUTCSeconds()),
    'azkaban.flow.start.milliseconds': String(start.getUTCMilliseconds()).padStart(3, '0'),
    'azkaban.flow.start.timezone': 'UTC',
  };
  if (plan.projectId !== undefined) builtins['azkaban.flow.projectid'] = String(plan.projectId);
  if (uuid !== undefined) builtins['azkaban.flow.uuid'] = uuid;
  return builtins;
}

export function jobPropertyLayers(sources: JobPropertySources, jobId: string, attempt = 0): PropertyLayer[] {
  const { graph } = sources;
  const job = nodeOf(graph, jobId);
  const layers: PropertyLayer[] = [
    {
      ...sources.builtins,
      'azkaban.job.id': job.name,
      'azkaban.job.attempt': String(attempt),
      'azkaban.job.innodes': job.parents.map((p) => nodeOf(graph, p).name).join(','),
      'azkaban.job.outnodes': job.children.map((c) => nodeOf(graph, c).name).join(','),
    },
    sources.flowParams,
    job.config,
    parentOutputs(sources, jobId),
  ];
  for (let flowId = job.flowId; flowId !== null; flowId = nodeOf(graph, flowId).flowId) {
    layers.push(nodeOf(graph, flowId).config, parentOutputs(sources, flowId));
  }
  layers.push(sources.flowConfig);
  if (job.inherited !== undefined) layers.push(job.inherited);
  return layers;
}

/** The output parameters a node passes to its children: a job's own; an embedded flow's end nodes'. */
export function nodeOutputs(sources: Pick<JobPropertySources, 'graph' | 'outputs'>, id: string): Record<string, string> {
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
