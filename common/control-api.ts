/**
 * The contract between the web server and a flow container (DESIGN §4).
 *
 * Container → server, under `${CAISSON_API_URL}/container-api/v1/executions/${execId}`, every call
 * with `Authorization: Bearer ${CAISSON_EXEC_TOKEN}`:
 *   GET  /plan                      → ExecutionPlan
 *   GET  /files/<path>              → the raw bytes of one project file (path as in plan.files)
 *   POST /register                  body RegisterRequest → RegisterResponse
 *   POST /events                    body EventBatch      → EventAck
 *   POST /heartbeat                 (no body)            → HeartbeatResponse
 *   PUT  /logs?job=<id>&attempt=<n>&offset=<bytes>   body: raw log bytes → LogAck
 *        (no `job` parameter: the flow log)
 * Errors are 4xx/5xx with `{code, message}`; 409 `EXECUTION_FINAL` means the execution ended:
 * the container stops its jobs and exits. 401 means the token is not (or no longer) valid.
 *
 * Server → container (the control API; in Kubernetes behind the ingress), same bearer token:
 *   GET  /ping                      → PingResponse
 *   POST /cancel                    → 202 CancelResponse
 *   POST /retry-failed              → 200 RetryFailedResponse (failed jobs of the running flow run again)
 *   GET  /logs?job=<id>&attempt=<n>&offset=<bytes>&length=<bytes>  → LogSlice (no job: flow log)
 */
import type { FlowDefinition } from './dsl/model.js';
import type { Status } from './status.js';

export const CONTAINER_API_PREFIX = '/container-api/v1/executions';

/** Environment of a flow container (pod or process). */
export const CONTAINER_ENV = {
  execId: 'CAISSON_EXEC_ID',
  apiUrl: 'CAISSON_API_URL',
  token: 'CAISSON_EXEC_TOKEN',
  versionSetId: 'CAISSON_VERSION_SET_ID',
  cluster: 'CAISSON_CLUSTER',
  /** Port of the control API; 0 (solo mode) picks a free one, reported through /register. */
  controlPort: 'CAISSON_CONTROL_PORT',
  /** Interface the control API binds to (solo: 127.0.0.1; pod: 0.0.0.0). */
  controlHost: 'CAISSON_CONTROL_HOST',
  /** Working directory for project files and job logs. */
  workDir: 'CAISSON_WORK_DIR',
  /** Directory holding one folder per jobtype payload (filled by init containers). */
  jobtypesDir: 'CAISSON_JOBTYPES_DIR',
} as const;

/** Set for each job process; user-supplied variables may never replace it. */
export const JOB_OUTPUT_PROP_FILE = 'JOB_OUTPUT_PROP_FILE';

export type FailureAction = 'finishCurrent' | 'cancelImmediately' | 'finishPossible';
export const FAILURE_ACTIONS: readonly FailureAction[] = ['finishCurrent', 'cancelImmediately', 'finishPossible'];

export interface ExecutionOptions {
  failureAction: FailureAction;
  /** Whether failureAction came from the submit (true) or may be replaced by the flow property. */
  failureActionOverride: boolean;
  concurrentOption: string;
  /** Job nested ids (`job` or `embedded:job`) disabled for this run. */
  disabled: string[];
  successEmails: string[];
  failureEmails: string[];
  notifyFailureFirst: boolean;
  notifyFailureLast: boolean;
  /** Flow-level retry of a failed run (`flow.retry.*`), resolved at submit; absent: never retried. */
  flowRetry?: FlowRetryPolicy;
}

/** Final statuses after which a run may be retried as a new execution. */
export const FLOW_RETRY_STATUSES = ['FAILED', 'EXECUTION_STOPPED'] as const;
export type FlowRetryStatus = (typeof FLOW_RETRY_STATUSES)[number];
export const FLOW_RETRY_STRATEGIES = ['retryAsNew', 'disableSucceededNodes'] as const;
export type FlowRetryStrategy = (typeof FLOW_RETRY_STRATEGIES)[number];

export interface FlowRetryPolicy {
  statuses: FlowRetryStatus[];
  /** Retries of the first run at most (the chain holds at most maxRetries + 1 executions). */
  maxRetries: number;
  strategy: FlowRetryStrategy;
}

/** The options of a submit that sets none (Azkaban's defaults). */
export function defaultExecutionOptions(): ExecutionOptions {
  return {
    failureAction: 'finishCurrent',
    failureActionOverride: false,
    concurrentOption: 'skip',
    disabled: [],
    successEmails: [],
    failureEmails: [],
    notifyFailureFirst: false,
    notifyFailureLast: false,
  };
}

export interface ProjectFileRef {
  path: string;
  size: number;
}

export interface ExecutionPlan {
  execId: number;
  projectId: number;
  projectName: string;
  projectVersion: number;
  flowId: string;
  flow: FlowDefinition;
  /** Resolved flow parameters (submit overrides over `param.override.*`), as Azkaban properties. */
  flowParams: Record<string, string>;
  options: ExecutionOptions;
  submitUser: string;
  submitTime: number;
  /** Parallelism: `flow.num.job.threads` (default 10). */
  numJobThreads: number;
  files: ProjectFileRef[];
  /** Heartbeat period the server expects, in ms. */
  heartbeatIntervalMs: number;
  /** Log shipping: at most this many ms or bytes between shipments. */
  logShipIntervalMs: number;
  logShipBytes: number;
}

export interface RegisterRequest {
  /** Base URL of the container's control API as the server can reach it (solo: http://127.0.0.1:<port>). */
  controlUrl: string;
  pid: number;
}

export interface RegisterResponse {
  ok: true;
  /** Next container event sequence number the server expects (resume after a restart). */
  nextSeq: number;
}

export type ContainerEventType =
  | 'FLOW_STATUS_CHANGED'
  | 'FLOW_STARTED'
  | 'FLOW_FINISHED'
  | 'JOB_STARTED'
  | 'JOB_FINISHED'
  | 'JOB_RETRY'
  | 'JOB_CONDITION_EVALUATED'
  | 'JOB_STATUS_CHANGED';

export interface FlowStatusPayload {
  status: Status;
}

/**
 * FLOW_FINISHED: the final status; `reason: 'SIGTERM'` when stopped by SIGTERM without a cancel
 * (the server then records EXECUTION_STOPPED); `cause` when the flow did not succeed — the first
 * job that failed for good, or `{reason}` for a flow that was stopped.
 */
export interface FlowFinishedPayload {
  status: Status;
  endTime?: number;
  reason?: string;
  cause?: { jobId: string; attempt: number; status: Status; message: string } | { reason: string };
}

export interface JobEventPayload {
  /** Nested id: `job`, or `embedded:job` inside embedded flows. */
  jobId: string;
  attempt: number;
  type: string;
  status: Status;
  startTime?: number;
  endTime?: number;
  outputParams?: Record<string, string>;
  message?: string;
}

export interface ContainerEvent {
  /** 1, 2, 3, … per execution; the server stores each (execution, container, seq) once. */
  seq: number;
  type: ContainerEventType;
  /** Epoch ms on the container's clock. */
  time: number;
  payload: FlowStatusPayload | JobEventPayload | Record<string, unknown>;
}

export interface EventBatch {
  events: ContainerEvent[];
}

export interface EventAck {
  /** Highest sequence number stored (contiguous from 1). */
  ackedSeq: number;
  /** True once the execution is final: the container stops its jobs and exits. */
  final: boolean;
  status: Status;
}

export interface HeartbeatResponse {
  final: boolean;
  status: Status;
  /** The server asks the container to cancel (a cancel whose /cancel call did not get through). */
  cancelRequested: boolean;
}

export interface LogAck {
  /** Bytes of this log stored contiguously from 0; resend from here if it is lower than sent. */
  storedUntil: number;
}

export interface PingResponse {
  status: 'ok';
  execId: number;
  flowStatus: Status;
}

export interface CancelResponse {
  accepted: true;
}

export interface RetryFailedResponse {
  /** Nested ids set back to READY with a new attempt; empty when nothing failed or the flow no longer runs. */
  retried: string[];
  flowStatus: Status;
}

export interface LogSlice {
  data: string;
  offset: number;
  length: number;
  /** Total bytes of the log known to the container so far. */
  size: number;
}
