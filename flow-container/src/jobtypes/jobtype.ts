/**
 * What a jobtype is to the runner: something that starts one job attempt and reports how it ended.
 * Built-in jobtypes are `noop` and `command`; plugin jobtypes (payloads under CAISSON_JOBTYPES_DIR)
 * will implement the same interface.
 */
import type { PropertyLayer } from '../../../common/dsl/properties.js';
import type { LineLog } from '../log-files.js';

export interface JobContext {
  /** Nested id (`job`, `outer:inner`). */
  jobId: string;
  attempt: number;
  type: string;
  /** The job's properties, highest precedence first (engine/job-properties.ts). */
  properties: readonly PropertyLayer[];
  projectDir: string;
  /** The attempt's log file; a process's stdout and stderr are appended to it. */
  logPath: string;
  /** Timestamped container lines in the same log (used only when something goes wrong). */
  jobLog: LineLog;
  /** The flow log, for what the container did on the job's behalf (commands run). */
  flowLog: LineLog;
  /** Path given to the job as JOB_OUTPUT_PROP_FILE. */
  outputPropFile: string;
  /** Environment jobs start from (no CAISSON_* variables). */
  baseEnv: Readonly<Record<string, string>>;
  /** SIGTERM → SIGKILL grace when the job's processes are killed. */
  killGraceMs: number;
}

export type JobEndStatus = 'SUCCEEDED' | 'FAILED' | 'KILLED';

export interface JobOutcome {
  status: JobEndStatus;
  outputParams?: Record<string, string>;
  /** Why the job failed, in one sentence (also written to the job log). */
  message?: string;
}

export interface JobHandle {
  /** Settles once the job and every process it started have ended; never rejects. */
  readonly done: Promise<JobOutcome>;
  /** Asks the job to stop (idempotent); it ends KILLED. */
  kill(): void;
}

export interface Jobtype {
  readonly name: string;
  start(context: JobContext): JobHandle;
}

/** A job that ended before it began: its outcome is known at once. */
export function settledJob(outcome: JobOutcome): JobHandle {
  return { done: Promise.resolve(outcome), kill: () => undefined };
}

/** Fails a job with `message`, written to its log as an ERROR line. */
export function failJob(context: Pick<JobContext, 'jobLog'>, message: string): JobOutcome {
  context.jobLog.error(message);
  return { status: 'FAILED', message };
}
