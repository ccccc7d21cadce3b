/**
 * Data access for executions (execution_flows) and their jobs (execution_jobs). Every status
 * write is a compare-and-set on the legal predecessors from common/status.ts; callers handle a
 * zero-row result.
 */
import type { Knex } from 'knex';
import { dialectOf } from '../../../common/db/knex.js';
import { nextUpdateTime } from '../../../common/db/dialect.js';
import { isStatus, predecessorsOf, type Status } from '../../../common/status.js';
import type { ExecutionOptions } from '../../../common/control-api.js';
import type { RuntimeInfo } from '../runtime/container-runtime.js';
import { toProject, type ProjectRow } from '../projects/projects-store.js';

type Db = Knex | Knex.Transaction;

export interface ExecutionRow {
  execId: number;
  projectId: number;
  projectVersion: number;
  flowId: string;
  status: Status;
  priority: number;
  submitUser: string;
  submitTime: number;
  startTime: number | null;
  endTime: number | null;
  updateTime: number;
  executionSource: string;
  scheduleId: number | null;
  claimedBy: string | null;
  leaseUntil: number | null;
  attempt: number;
  tokenNonce: string | null;
  tokenHash: string | null;
  cancelRequested: boolean;
  versionSetId: number | null;
  options: ExecutionOptions;
  flowParams: Record<string, string>;
  runtimeInfo: RuntimeInfo | null;
  failureReason: string | null;
  heartbeatAt: number | null;
  /** Flow-level retries: the first run of the chain and the run this one retries (null for a first run). */
  rootExecId: number | null;
  parentExecId: number | null;
  retryCount: number;
}

export interface JobRow {
  execId: number;
  jobId: string;
  attempt: number;
  jobType: string;
  status: Status;
  startTime: number | null;
  endTime: number | null;
  updateTime: number;
  outputParams: Record<string, string> | null;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function toExecution(r: Record<string, unknown>): ExecutionRow {
  const status = String(r.status);
  return {
    execId: Number(r.exec_id),
    projectId: Number(r.project_id),
    projectVersion: Number(r.project_version),
    flowId: String(r.flow_id),
    status: isStatus(status) ? status : 'EXECUTION_STOPPED',
    priority: Number(r.priority),
    submitUser: String(r.submit_user),
    submitTime: Number(r.submit_time),
    startTime: num(r.start_time),
    endTime: num(r.end_time),
    updateTime: Number(r.update_time),
    executionSource: String(r.execution_source),
    scheduleId: num(r.schedule_id),
    claimedBy: (r.claimed_by as string | null) ?? null,
    leaseUntil: num(r.lease_until),
    attempt: Number(r.attempt),
    tokenNonce: (r.token_nonce as string | null) ?? null,
    tokenHash: (r.token_hash as string | null) ?? null,
    cancelRequested: Boolean(r.cancel_requested),
    versionSetId: num(r.version_set_id),
    options: JSON.parse(String(r.options)) as ExecutionOptions,
    flowParams: JSON.parse(String(r.flow_params)) as Record<string, string>,
    runtimeInfo: r.runtime_info ? (JSON.parse(String(r.runtime_info)) as RuntimeInfo) : null,
    failureReason: (r.failure_reason as string | null) ?? null,
    heartbeatAt: num(r.heartbeat_at),
    rootExecId: num(r.root_exec_id),
    parentExecId: num(r.parent_exec_id),
    retryCount: Number(r.retry_count ?? 0),
  };
}

function toJob(r: Record<string, unknown>): JobRow {
  const status = String(r.status);
  return {
    execId: Number(r.exec_id),
    jobId: String(r.job_id),
    attempt: Number(r.attempt),
    jobType: String(r.job_type),
    status: isStatus(status) ? status : 'FAILED',
    startTime: num(r.start_time),
    endTime: num(r.end_time),
    updateTime: Number(r.update_time),
    outputParams: r.output_params ? (JSON.parse(String(r.output_params)) as Record<string, string>) : null,
  };
}

export interface NewExecution {
  projectId: number;
  projectVersion: number;
  flowId: string;
  priority: number;
  submitUser: string;
  submitTime: number;
  executionSource: string;
  scheduleId: number | null;
  options: ExecutionOptions;
  flowParams: Record<string, string>;
  /** Set for a flow-level retry (uq_execution_flows_parent: one retry per parent). */
  retryOf?: { rootExecId: number; parentExecId: number; retryCount: number };
}

export async function insertExecution(db: Db, e: NewExecution): Promise<number> {
  const [id] = await db('execution_flows').insert({
    project_id: e.projectId,
    project_version: e.projectVersion,
    flow_id: e.flowId,
    status: 'READY',
    priority: e.priority,
    submit_user: e.submitUser,
    submit_time: e.submitTime,
    update_time: e.submitTime,
    execution_source: e.executionSource,
    schedule_id: e.scheduleId,
    attempt: 0,
    options: JSON.stringify(e.options),
    flow_params: JSON.stringify(e.flowParams),
    ...(e.retryOf ? { root_exec_id: e.retryOf.rootExecId, parent_exec_id: e.retryOf.parentExecId, retry_count: e.retryOf.retryCount } : {}),
  });
  return Number(id);
}

export async function insertJobs(
  db: Db,
  execId: number,
  jobs: readonly { jobId: string; jobType: string; status: Status }[],
  now: number,
): Promise<void> {
  for (let i = 0; i < jobs.length; i += 500) {
    await db('execution_jobs').insert(
      jobs
        .slice(i, i + 500)
        .map((j) => ({ exec_id: execId, job_id: j.jobId, attempt: 0, job_type: j.jobType, status: j.status, update_time: now })),
    );
  }
}

export async function findExecution(db: Db, execId: number, options: { forUpdate?: boolean } = {}): Promise<ExecutionRow | undefined> {
  let q = db('execution_flows').where({ exec_id: execId }).first();
  if (options.forUpdate) q = q.forUpdate();
  const r = (await q) as Record<string, unknown> | undefined;
  return r ? toExecution(r) : undefined;
}

/**
 * Rows of a fixed SELECT on the status pollers' path, sent as written: a raw statement skips the
 * query builder's compilation, a third of the cost of a one-row read (issue 7, benchmark 6).
 */
async function selectRows(db: Db, sql: string, bindings: readonly (string | number)[]): Promise<Record<string, unknown>[]> {
  const r: unknown = await db.raw(sql, bindings);
  // mysql2 answers [rows, fields]; better-sqlite3 answers the rows.
  return (dialectOf(db as Knex) === 'mysql' ? (r as unknown[])[0] : r) as Record<string, unknown>[];
}

/** The columns of `projects` read with an execution, aliased so they cannot collide with its own. */
const PROJECT_COLUMNS = ['id', 'name', 'description', 'created_by', 'created_at', 'modified_by', 'modified_at', 'current_version'] as const;

// Primary keys of execution_flows and projects; a missing project row leaves the p__ columns null.
const EXECUTION_WITH_PROJECT_SQL =
  `select e.*, ${PROJECT_COLUMNS.map((c) => `p.${c} as p__${c}`).join(', ')} ` +
  'from execution_flows e left join projects p on p.id = e.project_id where e.exec_id';

export interface ExecutionWithProject {
  exec: ExecutionRow;
  /** Undefined when the project row is missing. */
  project: ProjectRow | undefined;
}

function toExecutionWithProject(r: Record<string, unknown>): ExecutionWithProject {
  const exec = toExecution(r);
  if (r.p__id === null || r.p__id === undefined) return { exec, project: undefined };
  const p: Record<string, unknown> = {};
  for (const c of PROJECT_COLUMNS) p[c] = r[`p__${c}`];
  return { exec, project: toProject(p) };
}

/**
 * Executions with their projects (deleted or not) in one read, by execution id — the status pollers'
 * path (issue 7), batched by ExecutionService; unknown ids are absent.
 */
export async function findExecutionsWithProject(db: Db, execIds: readonly number[]): Promise<Map<number, ExecutionWithProject>> {
  const out = new Map<number, ExecutionWithProject>();
  if (execIds.length === 0) return out;
  const rows = await selectRows(db, `${EXECUTION_WITH_PROJECT_SQL} in (${execIds.map(() => '?').join(', ')})`, execIds);
  for (const r of rows) {
    const found = toExecutionWithProject(r);
    out.set(found.exec.execId, found);
  }
  return out;
}

/**
 * Compare-and-set of an execution's status: succeeds only from a legal predecessor of `to`
 * (and, when given, from `onlyFrom` and with the expected claimer). Returns true when it moved.
 */
export async function transitionExecution(
  db: Db,
  execId: number,
  to: Status,
  now: number,
  options: { onlyFrom?: readonly Status[]; claimedBy?: string; set?: Record<string, unknown> } = {},
): Promise<boolean> {
  const from = options.onlyFrom ? options.onlyFrom.filter((s) => predecessorsOf(to).includes(s)) : predecessorsOf(to);
  if (from.length === 0) return false;
  const q = db('execution_flows').where({ exec_id: execId }).whereIn('status', from);
  if (options.claimedBy !== undefined) void q.where({ claimed_by: options.claimedBy });
  const set: Record<string, unknown> = { status: to, update_time: nextUpdateTime(db, now), ...options.set };
  if (['SUCCEEDED', 'FAILED', 'KILLED', 'EXECUTION_STOPPED'].includes(to) && !('end_time' in set)) set.end_time = now;
  const n = await q.update(set);
  return n === 1;
}

export async function updateExecutionFields(db: Db, execId: number, fields: Record<string, unknown>): Promise<void> {
  await db('execution_flows').where({ exec_id: execId }).update(fields);
}

/** Replaces the failure reason of an EXECUTION_STOPPED execution only while it is still `expected` (compare-and-set). */
export async function refineFailureReason(db: Db, execId: number, expected: string, reason: string, now: number): Promise<boolean> {
  // update_time moves too: it is part of the status ETag, and the body changed.
  const n = await db('execution_flows')
    .where({ exec_id: execId, status: 'EXECUTION_STOPPED', failure_reason: expected })
    .update({ failure_reason: reason, update_time: nextUpdateTime(db, now) });
  return n > 0;
}

export async function setRuntimeInfo(db: Db, execId: number, info: RuntimeInfo, now: number): Promise<void> {
  await db('execution_flows')
    .where({ exec_id: execId })
    .update({ runtime_info: JSON.stringify(info), update_time: nextUpdateTime(db, now) });
}

export async function recordHeartbeat(db: Db, execId: number, now: number): Promise<void> {
  await db('execution_flows').where({ exec_id: execId }).update({ heartbeat_at: now });
}

// Primary key (exec_id, job_id, attempt): the rows come in key order.
const JOBS_SQL = 'select * from execution_jobs where exec_id = ? order by job_id, attempt';

export async function listJobs(db: Db, execId: number): Promise<JobRow[]> {
  return (await selectRows(db, JOBS_SQL, [execId])).map(toJob);
}

export async function findJob(db: Db, execId: number, jobId: string, attempt: number): Promise<JobRow | undefined> {
  const r = (await db('execution_jobs').where({ exec_id: execId, job_id: jobId, attempt }).first()) as Record<string, unknown> | undefined;
  return r ? toJob(r) : undefined;
}

export async function upsertJob(db: Db, job: JobRow): Promise<void> {
  const existing = await findJob(db, job.execId, job.jobId, job.attempt);
  const row = {
    job_type: job.jobType,
    status: job.status,
    start_time: job.startTime,
    end_time: job.endTime,
    update_time: job.updateTime,
    output_params: job.outputParams ? JSON.stringify(job.outputParams) : null,
  };
  if (existing) await db('execution_jobs').where({ exec_id: job.execId, job_id: job.jobId, attempt: job.attempt }).update(row);
  else await db('execution_jobs').insert({ exec_id: job.execId, job_id: job.jobId, attempt: job.attempt, ...row });
}

/** Executions of a flow in a status group, locked when asked (concurrentOption=skip under a row lock). */
export async function findExecutionsOfFlowIn(db: Db, projectId: number, flowId: string, statuses: readonly Status[]): Promise<number[]> {
  const rows = (await db('execution_flows')
    .where({ project_id: projectId, flow_id: flowId })
    .whereIn('status', [...statuses])
    .select('exec_id')
    .orderBy('exec_id')) as { exec_id: number }[];
  return rows.map((r) => Number(r.exec_id));
}

/** Newest first; uses ix_execution_flows_flow. */
export async function listExecutionsOfFlow(
  db: Db,
  projectId: number,
  flowId: string,
  from: number,
  length: number,
): Promise<{ total: number; rows: ExecutionRow[] }> {
  const base = db('execution_flows').where({ project_id: projectId, flow_id: flowId });
  const [countRow] = (await base.clone().count({ n: '*' })) as { n: number | string }[];
  const rows = (await base
    .clone()
    .orderBy([
      { column: 'submit_time', order: 'desc' },
      { column: 'exec_id', order: 'desc' },
    ])
    .offset(from)
    .limit(length)) as Record<string, unknown>[];
  return { total: Number(countRow?.n ?? 0), rows: rows.map(toExecution) };
}

/** Executions in any of the statuses (the watcher's and the re-attach's working set); uses ix_execution_flows_status_update. */
export async function listExecutionsIn(db: Db, statuses: readonly Status[], limit = 10_000): Promise<ExecutionRow[]> {
  const rows = (await db('execution_flows')
    .whereIn('status', [...statuses])
    .orderBy('exec_id')
    .limit(limit)) as Record<string, unknown>[];
  return rows.map(toExecution);
}
