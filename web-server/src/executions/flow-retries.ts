/**
 * Submits the flow-level retry of a run that just became final, inside the transaction that made
 * it final: that transition is a compare-and-set, so only one replica ever gets here for a run
 * (and uq_execution_flows_parent refuses a second retry of the same parent regardless).
 */
import type { Knex } from 'knex';
import { appendServerEvent } from './events-store.js';
import { findExecution, insertExecution, insertJobs, listJobs } from './executions-store.js';
import { decideFlowRetry } from './flow-retry-policy.js';

/**
 * When the ended run's status is in its `flow.retry.statuses` and its retries are not used up,
 * inserts the retry in READY (same project version, flow, options, parameters and submit user;
 * `disableSucceededNodes` adds the jobs that succeeded to the disabled ones) and records a
 * FLOW_RETRY_SUBMITTED server event on the parent. Returns the retry's id, or null.
 */
export async function submitFlowRetryIfDue(trx: Knex.Transaction, execId: number, now: number): Promise<number | null> {
  const exec = await findExecution(trx, execId);
  if (!exec?.options.flowRetry) return null;
  const jobs = await listJobs(trx, execId);
  const decision = decideFlowRetry({
    status: exec.status,
    retryCount: exec.retryCount,
    policy: exec.options.flowRetry,
    disabled: exec.options.disabled,
    jobs,
  });
  if (!decision.retry) return null;
  const retryId = await insertExecution(trx, {
    projectId: exec.projectId,
    projectVersion: exec.projectVersion,
    flowId: exec.flowId,
    priority: exec.priority,
    submitUser: exec.submitUser,
    submitTime: now,
    executionSource: exec.executionSource,
    scheduleId: exec.scheduleId,
    options: { ...exec.options, disabled: decision.disabled },
    flowParams: exec.flowParams,
    retryOf: { rootExecId: exec.rootExecId ?? exec.execId, parentExecId: exec.execId, retryCount: decision.retryCount },
  });
  // One row per node as at submit: the first attempt of each job of the parent.
  const disabled = new Set(decision.disabled);
  const nodes = jobs.filter((j) => j.attempt === 0);
  await insertJobs(
    trx,
    retryId,
    nodes.map((j) => ({ jobId: j.jobId, jobType: j.jobType, status: disabled.has(j.jobId) ? 'DISABLED' : 'READY' })),
    now,
  );
  await appendServerEvent(trx, execId, 'FLOW_RETRY_SUBMITTED', { retryExecId: retryId, retryCount: decision.retryCount }, now);
  return retryId;
}
