/**
 * Runs one flow: applies the scheduling core's decisions (engine/scheduling.ts) — starting jobs
 * through their jobtype, killing them, marking nodes — reports each change as an event, and writes
 * the flow log. Everything happens on the event loop: a job's end or a cancel triggers the next
 * step, and a step never runs inside another.
 *
 * Retries (engine/retry-policy.ts) happen here, below the core: a FAILED attempt with retries left
 * is reported (JOB_FINISHED FAILED for that attempt, then JOB_RETRY with the next attempt QUEUED),
 * and after `retry.backoff` ms the next attempt starts with its own log; to the core the job stays
 * RUNNING until its last attempt ends. A kill during the back-off ends the waiting attempt KILLED.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Clock } from '../../../common/clock.js';
import type { ContainerEventType, ExecutionPlan, JobEventPayload } from '../../../common/control-api.js';
import { isFlowFinal, type Status } from '../../../common/status.js';
import { LineLog, type LogRegistry } from '../log-files.js';
import { settledJob, type JobContext, type JobHandle, type JobOutcome, type Jobtype } from '../jobtypes/jobtype.js';
import { buildExecutionGraph, nodeOf, type ExecutionGraph } from './execution-graph.js';
import { failedJobsToRetry } from './failed-job-retry.js';
import { flowBuiltins, jobPropertyLayers } from './job-properties.js';
import { retryPolicyOf } from './retry-policy.js';
import { schedulingOptionsFor } from './run-options.js';
import { describeDuration, flowMaxRunningOf, jobTimeoutOf } from '../../../common/dsl/timeouts.js';
import { decideNextSteps, type ConditionDecision, type SchedulingOptions } from './scheduling.js';

export type EmitEvent = (type: ContainerEventType, payload: Record<string, unknown>) => void;

export interface RunnerPaths {
  projectDir: string;
  /** Job logs go to `<jobLogsDir>/<encoded id>.<attempt>.log`. */
  jobLogsDir: string;
  outputsDir: string;
}

export interface DagRunnerOptions {
  plan: ExecutionPlan;
  paths: RunnerPaths;
  jobBaseEnv: Readonly<Record<string, string>>;
  killGraceMs: number;
  jobtypes: ReadonlyMap<string, Jobtype>;
  emit: EmitEvent;
  flowLog: LineLog;
  logs: LogRegistry;
  clock: Clock;
}

interface JobTimes {
  start?: number;
  end?: number;
}

/** Why a flow failed: the first job that failed for good, with its message. */
export interface FailureCause {
  jobId: string;
  attempt: number;
  status: Status;
  message: string;
}

export class DagRunner {
  private readonly graph: ExecutionGraph;
  private readonly scheduling: SchedulingOptions;
  private readonly statuses = new Map<string, Status>();
  private readonly times = new Map<string, JobTimes>();
  private readonly outputs = new Map<string, Record<string, string>>();
  private readonly handles = new Map<string, JobHandle>();
  /** Current attempt of each job that started (0 for the first). */
  private readonly attempts = new Map<string, number>();
  /** Condition outcome of nodes that have a condition, reported with their next event. */
  private readonly conditionOutcomes = new Map<string, ConditionDecision>();
  /** The first job that failed for good (after its retries): the flow's failure cause. */
  private firstFailure: FailureCause | undefined;
  private readonly uuid = crypto.randomUUID();
  /** Timers of jobs with a `job.timeout`, and the jobs killed by theirs (with the limit). */
  private readonly jobTimers = new Map<string, NodeJS.Timeout>();
  private readonly timedOut = new Map<string, number>();
  private flowTimer: NodeJS.Timeout | undefined;
  private flowStatus: Status = 'PREPARING';
  private startTime = 0;
  private cancelRequested = false;
  private stepping = false;
  private stepAgain = false;
  private resolveFinished: ((status: Status) => void) | undefined;
  private readonly finished: Promise<Status>;

  constructor(private readonly options: DagRunnerOptions) {
    this.graph = buildExecutionGraph(options.plan.flow);
    const { options: scheduling, notes } = schedulingOptionsFor(options.plan);
    this.scheduling = scheduling;
    for (const note of notes) options.flowLog.warn(note);
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
  }

  get status(): Status {
    return this.flowStatus;
  }

  /** Starts the flow; resolves with its final status once every job has ended. */
  /** The flow's failure cause, once a job has failed for good. */
  get failureCause(): FailureCause | undefined {
    return this.firstFailure;
  }

  run(): Promise<Status> {
    const { plan, flowLog, clock } = this.options;
    this.startTime = clock.now();
    this.flowStatus = 'RUNNING';
    flowLog.info(
      `Running execution ${plan.execId} of flow "${plan.flowId}" in project "${plan.projectName}" version ${plan.projectVersion}, submitted by ${plan.submitUser}`,
    );
    flowLog.info(`Failure action: ${this.scheduling.failureAction}; at most ${Math.max(1, plan.numJobThreads)} jobs at once`);
    this.options.emit('FLOW_STARTED', { status: 'RUNNING', startTime: this.startTime });
    const maxRunning = flowMaxRunningOf(plan.flowParams, plan.flow.config);
    if (maxRunning.note !== undefined) flowLog.warn(maxRunning.note);
    if (maxRunning.ms !== undefined) {
      const limit = maxRunning.ms;
      this.flowTimer = setTimeout(
        () => this.cancel(`the flow ran longer than its maximum running time of ${describeDuration(limit)}`),
        limit,
      );
      this.flowTimer.unref();
    }
    this.step();
    return this.finished;
  }

  /** Kills running jobs and cancels the rest; the flow ends KILLED (idempotent). */
  cancel(reason: string): void {
    if (this.cancelRequested || isFlowFinal(this.flowStatus)) return;
    this.cancelRequested = true;
    this.options.flowLog.info(`Kill requested (${reason})`);
    if (this.flowStatus !== 'PREPARING') this.step();
  }

  /**
   * retryFailedJobs: failed, killed and cancelled nodes of a flow that still runs go back to READY
   * with a new attempt and the scheduling core decides them again. Returns the nodes set back
   * (empty when the flow is not running, is being killed, or nothing failed).
   */
  retryFailedJobs(): string[] {
    if (this.cancelRequested || !['RUNNING', 'FAILED_FINISHING'].includes(this.flowStatus)) return [];
    const { flowLog, emit } = this.options;
    const { reset, reopen } = failedJobsToRetry(this.graph, this.statuses);
    if (reset.length === 0) return [];
    flowLog.info(`Retrying failed jobs: ${reset.join(', ')}`);
    for (const id of reopen) {
      this.statuses.set(id, 'RUNNING');
      emit('JOB_STATUS_CHANGED', this.jobPayload(id, 'RUNNING'));
    }
    for (const id of reset) {
      this.statuses.delete(id);
      this.attempts.set(id, (this.attempts.get(id) ?? 0) + 1);
      this.times.set(id, {});
      this.conditionOutcomes.delete(id);
      this.outputs.delete(id);
      emit('JOB_STATUS_CHANGED', this.jobPayload(id, 'READY'));
    }
    this.step();
    return reset;
  }

  private step(): void {
    if (this.stepping) {
      this.stepAgain = true;
      return;
    }
    this.stepping = true;
    try {
      do {
        this.stepAgain = false;
        this.applyDecisions();
      } while (this.stepAgain);
    } finally {
      this.stepping = false;
    }
  }

  private applyDecisions(): void {
    if (isFlowFinal(this.flowStatus)) return;
    const { flowLog, emit, clock } = this.options;
    const decisions = decideNextSteps({
      graph: this.graph,
      statuses: this.statuses,
      options: this.scheduling,
      cancelRequested: this.cancelRequested,
      outputs: this.outputs,
    });
    if (!isFlowFinal(decisions.flowStatus) && decisions.flowStatus !== this.flowStatus) {
      this.flowStatus = decisions.flowStatus;
      flowLog.info(`Setting flow status to ${decisions.flowStatus}`);
      emit('FLOW_STATUS_CHANGED', { status: decisions.flowStatus });
    }
    for (const note of decisions.notes) flowLog.warn(note);
    for (const outcome of decisions.conditions) {
      this.conditionOutcomes.set(outcome.id, outcome);
      if (outcome.met) flowLog.info(`Condition "${outcome.condition}" of ${outcome.id} holds`);
      else flowLog.info(`Cancelling ${outcome.id}: ${outcome.reason ?? 'its condition does not hold'}`);
    }
    for (const id of decisions.kill) {
      this.statuses.set(id, 'KILLING');
      flowLog.info(`Killing job ${id}`);
      emit('JOB_STATUS_CHANGED', this.jobPayload(id, 'KILLING'));
      this.handles.get(id)?.kill();
    }
    for (const { id, status } of decisions.mark) {
      const now = clock.now();
      this.statuses.set(id, status);
      const times = this.timesOf(id);
      if (status === 'RUNNING') {
        times.start = now;
        flowLog.info(`Running embedded flow ${id}`);
        emit('JOB_STARTED', this.jobPayload(id, status));
      } else if (status === 'FAILED_FINISHING') {
        flowLog.info(`Setting embedded flow ${id} to FAILED_FINISHING`);
        emit('JOB_STATUS_CHANGED', this.jobPayload(id, status));
      } else {
        times.start ??= now;
        times.end = now;
        if (status === 'SKIPPED') flowLog.info(`Skipping disabled ${id}`);
        else if (status === 'CANCELLED' && this.conditionOutcomes.get(id)?.met !== false)
          flowLog.info(`Cancelling ${id} due to prior errors or a kill`);
        else flowLog.info(`Embedded flow ${id} finished with status ${status} in ${seconds(times)} seconds`);
        emit('JOB_FINISHED', this.jobPayload(id, status));
      }
    }
    for (const id of decisions.start) this.startJob(id, this.attempts.get(id) ?? 0);
    if (isFlowFinal(decisions.flowStatus) && this.handles.size === 0) {
      this.flowStatus = decisions.flowStatus;
      const elapsed = Math.round((clock.now() - this.startTime) / 1000);
      flowLog.info(`Flow finished with status ${decisions.flowStatus} in ${elapsed} seconds`);
      clearTimeout(this.flowTimer);
      this.resolveFinished?.(decisions.flowStatus);
    }
  }

  private startJob(id: string, attempt = 0): void {
    const { flowLog, emit, clock, logs } = this.options;
    const node = nodeOf(this.graph, id);
    this.attempts.set(id, attempt);
    const base = `${fileNameOf(id)}.${attempt}`;
    const logPath = path.join(this.options.paths.jobLogsDir, `${base}.log`);
    logs.add({ job: id, attempt }, logPath);
    this.statuses.set(id, 'RUNNING');
    this.times.set(id, { start: clock.now() });
    flowLog.info(attempt === 0 ? `Job ${id} started` : `Job ${id} started attempt ${attempt}`);
    emit('JOB_STARTED', this.jobPayload(id, 'RUNNING'));

    const jobLog = new LineLog(logPath, clock);
    let handle: JobHandle;
    try {
      fs.writeFileSync(logPath, '');
      handle = this.startJobtype(node.type, this.jobContext(id, base, logPath, jobLog));
    } catch (e) {
      const message = `jobtype "${node.type}" could not start the job: ${e instanceof Error ? e.message : String(e)}`;
      try {
        jobLog.error(message);
      } catch {
        // the job log itself may be what failed; the flow log has the message too
      }
      handle = settledJob({ status: 'FAILED', message });
    }
    this.handles.set(id, handle);
    this.armJobTimeout(id, attempt, handle, jobLog);
    handle.done
      .then(
        (outcome) => outcome,
        (e: unknown): JobOutcome => ({ status: 'FAILED', message: e instanceof Error ? e.message : String(e) }),
      )
      .then((outcome) => this.finishJob(id, outcome))
      .catch((e: unknown) =>
        flowLog.error(`Internal error after job ${id} ended: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`),
      );
  }

  private startJobtype(type: string, context: JobContext): JobHandle {
    const jobtype = this.options.jobtypes.get(type);
    if (jobtype !== undefined) return jobtype.start(context);
    const message = `unknown jobtype "${type}"`;
    context.jobLog.error(message);
    return settledJob({ status: 'FAILED', message });
  }

  private propertiesOf(id: string, attempt: number): ReturnType<typeof jobPropertyLayers> {
    const { plan } = this.options;
    return jobPropertyLayers(
      {
        graph: this.graph,
        flowConfig: plan.flow.config,
        flowParams: plan.flowParams,
        builtins: flowBuiltins(plan, this.startTime, this.uuid),
        outputs: this.outputs,
      },
      id,
      attempt,
    );
  }

  private jobContext(id: string, base: string, logPath: string, jobLog: LineLog): JobContext {
    const { paths, flowLog } = this.options;
    const attempt = this.attempts.get(id) ?? 0;
    return {
      jobId: id,
      attempt,
      type: nodeOf(this.graph, id).type,
      properties: this.propertiesOf(id, attempt),
      projectDir: paths.projectDir,
      logPath,
      jobLog,
      flowLog,
      outputPropFile: path.join(paths.outputsDir, `${base}.json`),
      baseEnv: this.options.jobBaseEnv,
      killGraceMs: this.options.killGraceMs,
    };
  }

  private finishJob(id: string, ended: JobOutcome): void {
    let outcome = ended;
    const { flowLog, emit, clock, logs } = this.options;
    this.handles.delete(id);
    const attempt = this.attempts.get(id) ?? 0;
    clearTimeout(this.jobTimers.get(id));
    this.jobTimers.delete(id);
    const limit = this.timedOut.get(id);
    this.timedOut.delete(id);
    if (limit !== undefined && this.statuses.get(id) !== 'KILLING') {
      outcome = { status: 'FAILED', message: `the job ran longer than its job.timeout of ${describeDuration(limit)} and was killed` };
    }
    const status: Status = this.statuses.get(id) === 'KILLING' ? 'KILLED' : outcome.status;
    const times = this.timesOf(id);
    times.end = clock.now();
    logs.complete({ job: id, attempt });
    const retry = status === 'FAILED' && !this.cancelRequested ? retryPolicyOf(this.propertiesOf(id, attempt)) : undefined;
    if (retry !== undefined) for (const note of retry.notes) flowLog.warn(`Job ${id}: ${note}`);
    if (retry !== undefined && attempt < retry.retries) {
      this.scheduleRetry(id, attempt, outcome, retry.backoffMs);
      return;
    }
    this.statuses.set(id, status);
    if (status === 'FAILED' && this.firstFailure === undefined) {
      this.firstFailure = { jobId: id, attempt, status, message: outcome.message ?? `job ${id} failed` };
    }
    if (status === 'SUCCEEDED' && outcome.outputParams !== undefined) this.outputs.set(id, outcome.outputParams);
    if (outcome.message !== undefined && status !== 'SUCCEEDED') flowLog.error(`Job ${id}: ${outcome.message}`);
    flowLog.info(`Job ${id} finished with status ${status} in ${seconds(times)} seconds`);
    const payload = this.jobPayload(id, status);
    if (status === 'SUCCEEDED' && outcome.outputParams !== undefined && Object.keys(outcome.outputParams).length > 0) {
      payload.outputParams = outcome.outputParams;
    }
    if (outcome.message !== undefined && status !== 'SUCCEEDED') payload.message = outcome.message;
    emit('JOB_FINISHED', payload as unknown as Record<string, unknown>);
    this.step();
  }

  /** Kills the attempt once it runs longer than its `job.timeout`; finishJob then fails it. */
  private armJobTimeout(id: string, attempt: number, handle: JobHandle, jobLog: LineLog): void {
    const limit = jobTimeoutOf(this.propertiesOf(id, attempt));
    if (limit.note !== undefined) this.options.flowLog.warn(`Job ${id}: ${limit.note}`);
    const ms = limit.ms;
    if (ms === undefined) return;
    const timer = setTimeout(() => {
      this.timedOut.set(id, ms);
      this.options.flowLog.info(`Job ${id} ran longer than its job.timeout of ${describeDuration(ms)}; killing it`);
      try {
        jobLog.error(`the job ran longer than its job.timeout of ${describeDuration(ms)} and is killed`);
      } catch {
        // the flow log has the message too
      }
      handle.kill();
    }, ms);
    timer.unref();
    this.jobTimers.set(id, timer);
  }

  /** Reports the failed attempt, then starts the next one after `backoffMs` unless killed first. */
  private scheduleRetry(id: string, attempt: number, outcome: JobOutcome, backoffMs: number): void {
    const { flowLog, emit, clock } = this.options;
    if (outcome.message !== undefined) flowLog.error(`Job ${id}: ${outcome.message}`);
    flowLog.info(`Job ${id} attempt ${attempt} failed in ${seconds(this.timesOf(id))} seconds; retrying in ${backoffMs} ms`);
    const failed = this.jobPayload(id, 'FAILED');
    if (outcome.message !== undefined) failed.message = outcome.message;
    emit('JOB_FINISHED', failed);
    const next = attempt + 1;
    this.attempts.set(id, next);
    this.times.set(id, {});
    emit('JOB_RETRY', { ...this.jobPayload(id, 'QUEUED'), previousAttempt: attempt, retryAt: clock.now() + backoffMs });
    let settle: (go: boolean) => void = () => undefined;
    const waited = new Promise<boolean>((resolve) => (settle = resolve));
    const timer = setTimeout(() => settle(true), backoffMs);
    const waiting: JobHandle = {
      done: waited.then((): JobOutcome => ({ status: 'KILLED' })),
      kill: () => {
        clearTimeout(timer);
        settle(false);
      },
    };
    this.handles.set(id, waiting);
    void waited.then((go) => {
      if (this.handles.get(id) !== waiting) return;
      this.handles.delete(id);
      if (go) {
        this.startJob(id, next);
      } else {
        this.statuses.set(id, 'KILLED');
        const times = this.timesOf(id);
        times.start = times.end = clock.now();
        flowLog.info(`Job ${id} attempt ${next} was killed before it started`);
        emit('JOB_FINISHED', this.jobPayload(id, 'KILLED'));
        this.step();
      }
    });
  }

  private timesOf(id: string): JobTimes {
    let times = this.times.get(id);
    if (times === undefined) {
      times = {};
      this.times.set(id, times);
    }
    return times;
  }

  private jobPayload(id: string, status: Status): JobEventPayload & Record<string, unknown> {
    const times = this.timesOf(id);
    const payload: JobEventPayload & Record<string, unknown> = {
      jobId: id,
      attempt: this.attempts.get(id) ?? 0,
      type: nodeOf(this.graph, id).type,
      status,
    };
    if (times.start !== undefined) payload.startTime = times.start;
    const condition = this.conditionOutcomes.get(id);
    if (condition !== undefined && (status === 'RUNNING' || status === 'CANCELLED')) {
      payload.condition = {
        expression: condition.condition,
        met: condition.met,
        ...(condition.reason === undefined ? {} : { reason: condition.reason }),
      };
    }
    if (times.end !== undefined && status !== 'RUNNING' && status !== 'KILLING' && status !== 'FAILED_FINISHING')
      payload.endTime = times.end;
    return payload;
  }
}

function seconds(times: JobTimes): number {
  return times.start !== undefined && times.end !== undefined ? Math.round((times.end - times.start) / 1000) : 0;
}

/** A file name for a nested id: no path separators, bounded length, distinct for distinct ids. */
export function fileNameOf(id: string): string {
  const encoded = encodeURIComponent(id);
  if (encoded.length <= 180) return encoded;
  return `${encoded.slice(0, 160)}~${crypto.createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
}
