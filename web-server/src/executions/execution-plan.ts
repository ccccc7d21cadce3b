/** Builds the plan a flow container fetches (GET /plan) from the execution and its project version. */
import type { Knex } from 'knex';
import type { ExecutionPlan } from '../../../common/control-api.js';
import type { FlowDefinition } from '../../../common/dsl/model.js';
import { CaissonError } from '../../../common/errors.js';
import { findFlow, findProjectById, listProjectFilePaths } from '../projects/projects-store.js';
import type { ExecutionRow } from './executions-store.js';

export interface PlanSettings {
  heartbeatIntervalMs: number;
  logShipIntervalMs: number;
  logShipBytes: number;
}

export const DEFAULT_JOB_THREADS = 10;

export async function loadFlowOf(db: Knex, exec: ExecutionRow): Promise<{ projectName: string; flow: FlowDefinition }> {
  const project = await findProjectById(db, exec.projectId);
  const stored = await findFlow(db, exec.projectId, exec.projectVersion, exec.flowId);
  if (!project || !stored)
    throw new CaissonError('FLOW_NOT_FOUND', `Flow ${exec.flowId} of project version ${exec.projectVersion} is gone.`);
  return { projectName: project.name, flow: JSON.parse(stored.definition) as FlowDefinition };
}

export async function buildExecutionPlan(db: Knex, exec: ExecutionRow, settings: PlanSettings): Promise<ExecutionPlan> {
  const { projectName, flow } = await loadFlowOf(db, exec);
  const threadsRaw = exec.flowParams['flow.num.job.threads'] ?? flow.config['flow.num.job.threads'];
  const threads = threadsRaw !== undefined && /^\d+$/.test(threadsRaw) && Number(threadsRaw) > 0 ? Number(threadsRaw) : DEFAULT_JOB_THREADS;
  return {
    execId: exec.execId,
    projectId: exec.projectId,
    projectName,
    projectVersion: exec.projectVersion,
    flowId: exec.flowId,
    flow,
    flowParams: exec.flowParams,
    options: exec.options,
    submitUser: exec.submitUser,
    submitTime: exec.submitTime,
    numJobThreads: threads,
    files: await listProjectFilePaths(db, exec.projectId, exec.projectVersion),
    heartbeatIntervalMs: settings.heartbeatIntervalMs,
    logShipIntervalMs: settings.logShipIntervalMs,
    logShipBytes: settings.logShipBytes,
  };
}
