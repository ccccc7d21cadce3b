/**
 * Executions as callers see them: submit, cancel, read (with the project permission each needs),
 * and logs — stored chunks joined with the container's live tail while the flow runs.
 */
import type { Knex } from 'knex';
import type { Clock } from '../../../common/clock.js';
import { CaissonError } from '../../../common/errors.js';
import { isFlowFinal, type Status } from '../../../common/status.js';
import type { Principal } from '../auth/principal.js';
import type { Logger } from '../log.js';
import type { ProjectRow, ProjectService } from '../projects/project-service.js';
import { findProjectById } from '../projects/projects-store.js';
import type { PermissionType } from '../projects/permissions.js';
import type { ContainerClient } from './container-client.js';
import type { CancelOutcome, ExecutionControl } from './execution-control.js';
import { BatchLoader } from '../../../common/batch-loader.js';
import { LruMap } from '../../../common/lru.js';
import {
  findExecutionsWithProject,
  findExecutionsOfFlowIn,
  listExecutionsOfFlow,
  listJobs,
  type ExecutionRow,
  type ExecutionWithProject,
  type JobRow,
} from './executions-store.js';
import { storedLogEnd } from './logs-store.js';
import { clampReadLength, readStoredBytes, toSlice, type LogSliceResult } from './logs.js';
import { submitExecution, type ResourceCaps, type SubmitRequest, type Submitted } from './submit.js';
import type { FlowDefinition } from '../../../common/dsl/model.js';

export interface ExecutionServiceDeps {
  db: Knex;
  clock: Clock;
  log: Logger;
  projects: ProjectService;
  control: ExecutionControl;
  client: ContainerClient;
  nudge: () => void;
  resourceCaps?: ResourceCaps;
}

const RUNNING_STATUSES: readonly Status[] = ['DISPATCHING', 'PREPARING', 'RUNNING', 'FAILED_FINISHING', 'KILLING'];

/** An execution and its project, read together and checked. */
export interface CheckedExecution {
  exec: ExecutionRow;
  project: ProjectRow;
}

export interface ExecutionDetail {
  exec: ExecutionRow;
  projectName: string;
  flow: FlowDefinition;
  jobs: JobRow[];
}

/** Rendered status bodies kept: a few KiB each for a 20-job flow, at most 32 MiB of text in all. */
const RENDERED_STATUS_ENTRIES = 2000;
const RENDERED_STATUS_CHARS = 32 * 1024 * 1024;

export class ExecutionService {
  /** Concurrent reads of executions (status pollers) share database round trips. */
  private readonly reads: BatchLoader<number, ExecutionWithProject>;
  /** The last rendered status of each representation of an execution, with the validator it was built for. */
  private readonly rendered = new LruMap<string, { etag: string; body: string }>(RENDERED_STATUS_ENTRIES, {
    maxWeight: RENDERED_STATUS_CHARS,
    weigh: (r) => r.body.length,
  });

  constructor(private readonly deps: ExecutionServiceDeps) {
    this.reads = new BatchLoader((ids) => findExecutionsWithProject(deps.db, ids), { maxBatch: 100, maxInFlight: 2 });
  }

  submit(caller: Principal, req: SubmitRequest): Promise<Submitted> {
    return submitExecution(
      {
        db: this.deps.db,
        clock: this.deps.clock,
        projects: this.deps.projects,
        nudge: this.deps.nudge,
        resourceCaps: this.deps.resourceCaps,
      },
      caller,
      req,
    );
  }

  /** The execution, provided the caller holds `needed` on its project. */
  async requireExecution(caller: Principal, execIdRaw: string | number | undefined, needed: PermissionType): Promise<ExecutionRow> {
    return (await this.requireExecutionWithProject(caller, execIdRaw, needed)).exec;
  }

  /**
   * The execution and its project (one query), provided the caller holds `needed` on it. The
   * status pollers' path: a conditional read answers from this alone.
   */
  async requireExecutionWithProject(
    caller: Principal,
    execIdRaw: string | number | undefined,
    needed: PermissionType,
  ): Promise<CheckedExecution> {
    const execId = Number(execIdRaw);
    if (execIdRaw === undefined || execIdRaw === '' || !Number.isInteger(execId) || execId <= 0) {
      throw new CaissonError(
        'BAD_REQUEST',
        `execid must be a positive whole number; got ${execIdRaw === undefined ? 'nothing' : `"${String(execIdRaw)}"`}.`,
      );
    }
    const found = await this.reads.load(execId);
    if (!found?.project) throw new CaissonError('EXECUTION_NOT_FOUND', `Execution ${execId} does not exist.`);
    await this.deps.projects.checkPermission(caller, found.project, needed);
    return { exec: found.exec, project: found.project };
  }

  async detail(caller: Principal, execId: string | number | undefined): Promise<ExecutionDetail> {
    const { exec, project } = await this.requireExecutionWithProject(caller, execId, 'READ');
    return this.detailOf(exec, project);
  }

  /**
   * The detail of an execution already read and checked (a conditional read builds it only when it
   * changed). `project`, when the caller has it, saves reading it again; the flow comes from the
   * cache of parsed flows.
   */
  async detailOf(exec: ExecutionRow, project?: Pick<ProjectRow, 'id' | 'name'>): Promise<ExecutionDetail> {
    const [projectName, flow, jobs] = await Promise.all([
      project?.id === exec.projectId ? project.name : findProjectById(this.deps.db, exec.projectId).then((p) => p?.name),
      this.deps.projects.flowOf(exec.projectId, exec.projectVersion, exec.flowId),
      listJobs(this.deps.db, exec.execId),
    ]);
    if (projectName === undefined || !flow)
      throw new CaissonError('FLOW_NOT_FOUND', `Flow ${exec.flowId} of project version ${exec.projectVersion} is gone.`);
    return { exec, projectName, flow, jobs };
  }

  /**
   * The status of a read and checked execution rendered by `render`, rebuilt only when `etag` (built
   * from the row, which every write to the execution or its jobs moves) differs from the one it was
   * last rendered for. Pollers of an unchanged execution cost one row read.
   */
  async renderedDetail(
    exec: ExecutionRow,
    project: Pick<ProjectRow, 'id' | 'name'>,
    representation: string,
    etag: string,
    render: (d: ExecutionDetail) => string,
  ): Promise<string> {
    const key = `${representation}:${exec.execId}`;
    const kept = this.rendered.get(key);
    if (kept?.etag === etag) return kept.body;
    const body = render(await this.detailOf(exec, project));
    this.rendered.set(key, { etag, body });
    return body;
  }

  async cancel(caller: Principal, execId: string | number | undefined): Promise<{ exec: ExecutionRow; outcome: CancelOutcome }> {
    const exec = await this.requireExecution(caller, execId, 'EXECUTE');
    if (isFlowFinal(exec.status)) {
      throw new CaissonError('CONFLICT', `Execution ${exec.execId} of flow ${exec.flowId} isn't running.`);
    }
    return { exec, outcome: await this.deps.control.cancel(exec, caller.username) };
  }

  /**
   * retryFailedJobs: asks the container of a running flow to run its failed jobs again (each with a
   * new attempt). Refused with Azkaban's message once the flow is not running any more.
   */
  async retryFailedJobs(caller: Principal, execId: string | number | undefined): Promise<{ exec: ExecutionRow; retried: string[] }> {
    const exec = await this.requireExecution(caller, execId, 'EXECUTE');
    const notRunning = new CaissonError('CONFLICT', `Execution ${exec.execId} of flow ${exec.flowId} isn't running.`);
    if (exec.status !== 'RUNNING' && exec.status !== 'FAILED_FINISHING') throw notRunning;
    const url = this.deps.control.controlUrlOf(exec);
    const token = this.deps.control.tokenOf(exec);
    if (!url || !token) throw notRunning;
    try {
      const r = await this.deps.client.retryFailed(url, token);
      this.deps.log.info({ execId: exec.execId, retried: r.retried, by: caller.username }, `Retrying ${r.retried.length} failed jobs.`);
      return { exec, retried: r.retried };
    } catch (e) {
      throw new CaissonError('UNAVAILABLE', `The flow container of execution ${exec.execId} did not take the retry: ${String(e)}`, {
        cause: e,
        retryable: true,
      });
    }
  }

  async running(caller: Principal, project: string | undefined, flow: string | undefined): Promise<number[]> {
    const p = await this.deps.projects.requireProject(caller, project, 'READ');
    if (!flow) throw new CaissonError('BAD_REQUEST', 'Flow name is missing: pass "flow".');
    return findExecutionsOfFlowIn(this.deps.db, p.id, flow, RUNNING_STATUSES);
  }

  async ofFlow(caller: Principal, project: string | undefined, flow: string | undefined, from: number, length: number) {
    const p = await this.deps.projects.requireProject(caller, project, 'READ');
    if (!flow) throw new CaissonError('BAD_REQUEST', 'Flow name is missing: pass "flow".');
    const page = await listExecutionsOfFlow(this.deps.db, p.id, flow, Math.max(0, from), Math.max(0, Math.min(length, 1000)));
    return { project: p, ...page };
  }

  /**
   * A slice of a log. `job` undefined: the flow log. While the execution runs, bytes past what is
   * stored come from the container's live tail; once it is final, from the database alone.
   */
  async readLog(
    caller: Principal,
    execIdRaw: string | number | undefined,
    job: string | undefined,
    attempt: number,
    offset: number,
    length: number,
  ): Promise<LogSliceResult> {
    const exec = await this.requireExecution(caller, execIdRaw, 'READ');
    if (!Number.isInteger(offset) || offset < 0)
      throw new CaissonError('BAD_REQUEST', `offset must be a whole number of bytes ≥ 0; got ${offset}.`);
    if (!Number.isInteger(length) || length < 0)
      throw new CaissonError('BAD_REQUEST', `length must be a whole number of bytes ≥ 0; got ${length}.`);
    if (job !== undefined) {
      const jobs = await listJobs(this.deps.db, exec.execId);
      if (!jobs.some((j) => j.jobId === job)) throw new CaissonError('NOT_FOUND', `Execution ${exec.execId} has no job ${job}.`);
    }
    const key = { execId: exec.execId, name: job ?? '', attempt };
    const want = clampReadLength(length);
    const stored = await readStoredBytes(this.deps.db, key, offset, want);
    if (stored.length >= want || isFlowFinal(exec.status)) return toSlice(offset, stored);
    // Live tail: ask the container for what follows the stored bytes.
    const url = this.deps.control.controlUrlOf(exec);
    const token = this.deps.control.tokenOf(exec);
    if (!url || !token) return toSlice(offset, stored);
    const storedEnd = await storedLogEnd(this.deps.db, key);
    const from = Math.max(offset, storedEnd);
    if (from > offset + stored.length) return toSlice(offset, stored);
    try {
      const live = await this.deps.client.logs(url, token, job, attempt, from, want - stored.length);
      return toSlice(offset, Buffer.concat([stored, Buffer.from(live.data, 'utf8')]));
    } catch (e) {
      this.deps.log.debug({ execId: exec.execId, err: e }, 'live log tail unavailable; answering with the stored part');
      return toSlice(offset, stored);
    }
  }
}
