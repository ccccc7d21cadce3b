/**
 * Applies a container's ordered events (DESIGN §4): each is stored once (unique on execution,
 * source, sequence) and updates execution_flows / execution_jobs in the same transaction. Statuses
 * move only along the transition table, so a late or repeated event never moves anything back.
 */
import type { Knex } from 'knex';
import type { ContainerEvent, EventAck, JobEventPayload } from '../../../common/control-api.js';
import { isUniqueViolation, nextUpdateTime } from '../../../common/db/dialect.js';
import { CaissonError } from '../../../common/errors.js';
import { canJobTransition, isFlowFinal, isJobFinal, isStatus, type Status } from '../../../common/status.js';
import { findExecution, findJob, transitionExecution, upsertJob, type ExecutionRow } from './executions-store.js';
import { insertEvent, lastEventSeq } from './events-store.js';
import { submitFlowRetryIfDue } from './flow-retries.js';
import { finalizeJobsOf } from './jobs-finalize.js';
import type { ExecutionStage, Metrics } from '../metrics/metrics.js';

/** A stage that ended in this transaction, observed once it commits. */
interface StageEnd {
  stage: ExecutionStage;
  fromMs: number;
  toMs: number;
}

/** A FAILED flow's cause (the first job that failed for good) as the execution's failure_reason. */
function failureReasonOf(status: string, cause: unknown): { failure_reason?: string } {
  if (status !== 'FAILED' || typeof cause !== 'object' || cause === null) return {};
  const c = cause as { jobId?: unknown; message?: unknown; attempt?: unknown };
  if (typeof c.jobId !== 'string') return {};
  const attempt = typeof c.attempt === 'number' && c.attempt > 0 ? ` (attempt ${c.attempt})` : '';
  return { failure_reason: `job ${c.jobId}${attempt} failed: ${typeof c.message === 'string' ? c.message : 'no message'}` };
}

export const SIGTERM_STOP_REASON = 'the flow container was stopped by SIGTERM without a cancel (eviction or node drain)';

/** What applying a batch leaves for after its commit: stage timings, and whether a flow retry was submitted. */
interface AfterCommit {
  stages: StageEnd[];
  retrySubmitted: boolean;
}

async function applyOne(trx: Knex.Transaction, exec: ExecutionRow, e: ContainerEvent, now: number, after: AfterCommit): Promise<void> {
  const { stages } = after;
  const p = e.payload as Record<string, unknown>;
  switch (e.type) {
    case 'FLOW_STARTED':
      // PREPARING began at markPreparing, the row's last update_time while it was PREPARING.
      if (await transitionExecution(trx, exec.execId, 'RUNNING', now, { onlyFrom: ['PREPARING'], set: { start_time: e.time } }))
        if (exec.status === 'PREPARING') stages.push({ stage: 'preparing_to_running', fromMs: exec.updateTime, toMs: now });
      await trx('execution_flows').where({ exec_id: exec.execId }).whereNull('start_time').update({ start_time: e.time });
      return;
    case 'FLOW_STATUS_CHANGED': {
      const status = String(p.status);
      if (isStatus(status) && !isFlowFinal(status)) await transitionExecution(trx, exec.execId, status, now);
      return;
    }
    case 'FLOW_FINISHED': {
      const status = String(p.status);
      if (!isStatus(status) || !isFlowFinal(status))
        throw new CaissonError('BAD_REQUEST', `FLOW_FINISHED carries status "${status}"; expected one of SUCCEEDED, FAILED, KILLED.`);
      const current = await findExecution(trx, exec.execId);
      // A SIGTERM the user did not ask for (eviction, drain, pod deleted) is an infrastructure stop, not a
      // kill; a container moving itself to KILLING on that SIGTERM does not make it one.
      const unasked = status === 'KILLED' && p.reason === 'SIGTERM' && current !== undefined && !current.cancelRequested;
      const moved = unasked
        ? await transitionExecution(trx, exec.execId, 'EXECUTION_STOPPED', now, {
            set: { failure_reason: SIGTERM_STOP_REASON, end_time: e.time },
          })
        : await transitionExecution(trx, exec.execId, status, now, { set: { end_time: e.time, ...failureReasonOf(status, p.cause) } });
      if (moved) {
        await finalizeJobsOf(trx, exec.execId, now);
        if ((await submitFlowRetryIfDue(trx, exec.execId, now)) !== null) after.retrySubmitted = true;
        const startedAt = current?.startTime ?? null;
        if (startedAt !== null) stages.push({ stage: 'running_to_final', fromMs: startedAt, toMs: e.time });
      }
      return;
    }
    case 'JOB_STARTED':
    case 'JOB_FINISHED':
    case 'JOB_STATUS_CHANGED':
    case 'JOB_RETRY':
    case 'JOB_CONDITION_EVALUATED': {
      const j = p as unknown as JobEventPayload;
      if (typeof j.jobId !== 'string' || !isStatus(String(j.status))) return;
      const attempt = Number(j.attempt ?? 0);
      const existing = await findJob(trx, exec.execId, j.jobId, attempt);
      const to = j.status as Status;
      if (existing && !canJobTransition(existing.status, to)) return;
      await upsertJob(trx, {
        execId: exec.execId,
        jobId: j.jobId,
        attempt,
        jobType: j.type ?? existing?.jobType ?? 'unknown',
        status: to,
        startTime: j.startTime ?? existing?.startTime ?? (to === 'RUNNING' ? e.time : null),
        endTime: j.endTime ?? (isJobFinal(to) ? e.time : (existing?.endTime ?? null)),
        updateTime: now,
        outputParams: j.outputParams ?? existing?.outputParams ?? null,
      });
      await trx('execution_flows')
        .where({ exec_id: exec.execId })
        .update({ update_time: nextUpdateTime(trx, now) });
      return;
    }
    default:
      return;
  }
}

/**
 * Stores and applies the events that extend the stored sequence; earlier ones are duplicates and
 * are acknowledged without effect; a gap stops the batch (the container resends from the ack).
 */
export async function applyContainerEvents(
  db: Knex,
  execId: number,
  events: readonly ContainerEvent[],
  now: number,
  metrics?: Metrics,
  /** Called after the commit when a flow retry was submitted (the local queue looks for it at once). */
  onRetrySubmitted?: () => void,
): Promise<EventAck> {
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  const pending: AfterCommit = { stages: [], retrySubmitted: false };
  const { stages } = pending;
  let applied = 0;
  try {
    const ack = await db.transaction(async (trx) => {
      stages.length = 0;
      pending.retrySubmitted = false;
      applied = 0;
      // The row lock serialises concurrent batches of one execution.
      const exec = await findExecution(trx, execId, { forUpdate: true });
      if (!exec) throw new CaissonError('EXECUTION_NOT_FOUND', `Execution ${execId} does not exist.`);
      let acked = await lastEventSeq(trx, execId, 'container');
      for (const e of sorted) {
        if (e.seq <= acked) continue;
        if (e.seq !== acked + 1) break;
        await insertEvent(trx, {
          execId,
          source: 'container',
          seq: e.seq,
          type: e.type,
          payload: e.payload as Record<string, unknown>,
          eventTime: e.time,
          receivedAt: now,
        });
        await applyOne(trx, exec, e, now, pending);
        acked = e.seq;
        applied++;
      }
      const after = (await findExecution(trx, execId))!;
      return { ackedSeq: acked, final: isFlowFinal(after.status), status: after.status };
    });
    metrics?.eventsApplied.inc(applied);
    for (const s of stages) metrics?.observeStage(s.stage, s.fromMs, s.toMs);
    if (pending.retrySubmitted) onRetrySubmitted?.();
    return ack;
  } catch (e) {
    if (!isUniqueViolation(e)) throw e;
    const exec = await findExecution(db, execId);
    return {
      ackedSeq: await lastEventSeq(db, execId, 'container'),
      final: exec ? isFlowFinal(exec.status) : true,
      status: exec?.status ?? 'EXECUTION_STOPPED',
    };
  }
}
