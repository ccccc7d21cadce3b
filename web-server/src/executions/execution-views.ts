/** Azkaban's JSON shapes of an execution (fetchexecflow, fetchexecflowupdate, …). Pure. */
import type { FlowDefinition, FlowNode } from '../../../common/dsl/model.js';
import type { ExecutionRow, JobRow } from './executions-store.js';

const t = (v: number | null): number => v ?? -1;

/** The newest attempt of each job, by nested id. */
export function latestAttempts(jobs: readonly JobRow[]): Map<string, JobRow> {
  const m = new Map<string, JobRow>();
  for (const j of jobs) {
    const prev = m.get(j.jobId);
    if (!prev || j.attempt > prev.attempt) m.set(j.jobId, j);
  }
  return m;
}

function nodesOf(
  nodes: readonly FlowNode[],
  prefix: string,
  jobs: Map<string, JobRow>,
  sinceTime: number | undefined,
): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const n of nodes) {
    const nestedId = prefix + n.name;
    const j = jobs.get(nestedId);
    const node: Record<string, unknown> = {
      attempt: j?.attempt ?? 0,
      startTime: t(j?.startTime ?? null),
      id: n.name,
      updateTime: t(j?.updateTime ?? null),
      status: j?.status ?? 'READY',
      nestedId,
      type: n.type,
      endTime: t(j?.endTime ?? null),
    };
    if (n.dependsOn.length > 0) node.in = [...n.dependsOn];
    if (n.type === 'flow' && n.nodes) {
      node.flow = n.name;
      node.flowId = n.name;
      node.nodes = nodesOf(n.nodes, `${nestedId}:`, jobs, sinceTime);
    }
    if (sinceTime !== undefined && (j?.updateTime ?? -1) <= sinceTime && !(node.nodes as unknown[] | undefined)?.length) continue;
    out.push(node);
  }
  return out;
}

export function fetchExecFlowView(
  exec: ExecutionRow,
  projectName: string,
  flow: FlowDefinition,
  jobs: readonly JobRow[],
): Record<string, unknown> {
  return {
    attempt: exec.attempt > 0 ? exec.attempt - 1 : 0,
    submitUser: exec.submitUser,
    updateTime: exec.updateTime,
    status: exec.status,
    submitTime: exec.submitTime,
    projectId: exec.projectId,
    flow: exec.flowId,
    endTime: t(exec.endTime),
    type: null,
    nestedId: exec.flowId,
    startTime: t(exec.startTime),
    id: exec.flowId,
    project: projectName,
    nodes: nodesOf(flow.nodes, '', latestAttempts(jobs), undefined),
    flowId: exec.flowId,
    execid: exec.execId,
    executionSource: exec.executionSource,
    scheduleId: exec.scheduleId ?? -1,
    // Caisson's flow-level retries (Azkaban's fields above are unchanged): -1 for a first run.
    rootExecId: exec.rootExecId ?? -1,
    parentExecId: exec.parentExecId ?? -1,
    retryCount: exec.retryCount,
  };
}

export function fetchExecFlowUpdateView(
  exec: ExecutionRow,
  flow: FlowDefinition,
  jobs: readonly JobRow[],
  lastUpdateTime: number,
): Record<string, unknown> {
  return {
    id: exec.flowId,
    startTime: t(exec.startTime),
    attempt: exec.attempt > 0 ? exec.attempt - 1 : 0,
    status: exec.status,
    updateTime: exec.updateTime,
    nodes: nodesOf(flow.nodes, '', latestAttempts(jobs), lastUpdateTime),
    flow: exec.flowId,
    endTime: t(exec.endTime),
  };
}

export function executionSummary(exec: ExecutionRow): Record<string, unknown> {
  return {
    startTime: t(exec.startTime),
    submitUser: exec.submitUser,
    status: exec.status,
    submitTime: exec.submitTime,
    execId: exec.execId,
    projectId: exec.projectId,
    endTime: t(exec.endTime),
    flowId: exec.flowId,
    executionSource: exec.executionSource,
    scheduleId: exec.scheduleId ?? -1,
  };
}

/** The REST view: everything the AJAX view has, plus the failure reason and runtime identifiers. */
export function restExecutionView(exec: ExecutionRow, projectName: string, jobs: readonly JobRow[]): Record<string, unknown> {
  const runtime = { ...(exec.runtimeInfo ?? {}) };
  return {
    execId: exec.execId,
    project: projectName,
    projectId: exec.projectId,
    projectVersion: exec.projectVersion,
    flow: exec.flowId,
    status: exec.status,
    priority: exec.priority,
    submitUser: exec.submitUser,
    submitTime: exec.submitTime,
    startTime: exec.startTime,
    endTime: exec.endTime,
    updateTime: exec.updateTime,
    source: exec.executionSource,
    scheduleId: exec.scheduleId,
    dispatchAttempt: exec.attempt,
    failureReason: exec.failureReason,
    rootExecId: exec.rootExecId,
    parentExecId: exec.parentExecId,
    retryCount: exec.retryCount,
    versionSetId: exec.versionSetId,
    options: exec.options,
    flowParams: exec.flowParams,
    runtime,
    jobs: jobs.map((j) => ({
      jobId: j.jobId,
      attempt: j.attempt,
      type: j.jobType,
      status: j.status,
      startTime: j.startTime,
      endTime: j.endTime,
      outputParams: j.outputParams,
    })),
  };
}
