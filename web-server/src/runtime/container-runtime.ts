/**
 * The seam between dispatch and where flows run (DESIGN §2). ProcessRuntime (solo mode) and
 * KubernetesRuntime implement it; the dispatcher, watcher and cancel path use only this.
 */

export interface LaunchPlan {
  execId: number;
  projectName: string;
  flowId: string;
  /** Plugin jobtypes the flow needs (sorted, lower-case), found by walking the DAG. */
  jobTypes: string[];
  /** The container's environment: CAISSON_EXEC_ID, CAISSON_API_URL, CAISSON_EXEC_TOKEN, … */
  env: Record<string, string>;
  /** Resource requests (Kubernetes quantities), when the flow sets them. */
  resources: { cpu?: string; memory?: string; disk?: string };
  versionSetId: number | null;
  /** Jobtype images of the version set (not the base image): their payloads are copied in before start. */
  jobtypeImages?: { imageType: string; path: string; version: string }[];
  /** The base image (the flow container itself) of the version set; the pod's app container runs it. */
  baseImage?: { imageType: string; path: string; version: string };
  /** The flow's maximum running time (`flow.max.running.time`); undefined when it has none. */
  maxRunningMs?: number;
  /** `disable.pod.cleanup=true` (admin-only): keep the finished container for the configured retention. */
  keepAfterFinish?: boolean;
}

/** What the runtime records about a launched container (stored as execution_flows.runtime_info). */
export type RuntimeInfo = Record<string, string | number | boolean | null>;

export interface LaunchResult {
  runtimeInfo: RuntimeInfo;
  /** True when launch found the container already there (a retried launch adopts it). */
  adopted: boolean;
}

export type RuntimeEvent =
  | { type: 'started'; execId: number; at: number }
  | { type: 'exited'; execId: number; at: number; exitCode: number | null; signal: string | null }
  | { type: 'failed'; execId: number; at: number; reason: string }
  /** The container ended; a final report may still be in flight (the runtime sends `stopped` after a grace if it matters). */
  | { type: 'terminated'; execId: number; at: number }
  /** The execution must end now: EXECUTION_STOPPED with this reason, or KILLED when a cancel was asked. */
  | { type: 'stopped'; execId: number; at: number; reason: string }
  /** The pod moved to another phase or container state (recorded as POD_PHASE_CHANGED). */
  | { type: 'phase'; execId: number; at: number; phase: string; detail: Record<string, unknown> };

export interface ContainerDescription {
  execId: number;
  state: 'starting' | 'running' | 'exited' | 'unknown';
  runtimeInfo: RuntimeInfo;
  exitCode?: number | null;
}

export interface ContainerRuntime {
  readonly name: 'process' | 'kubernetes';
  start(): Promise<void>;
  /** Stops watching; running containers are left running (a restarted server re-attaches). */
  stop(): Promise<void>;
  /** Idempotent by execution id: a second launch of the same id adopts what exists. */
  launch(plan: LaunchPlan): Promise<LaunchResult>;
  /** Stops a container: SIGTERM (or pod delete), then forcefully after `graceMs`. */
  stopContainer(execId: number, graceMs: number): Promise<void>;
  describe(execId: number): Promise<ContainerDescription | undefined>;
  /** Re-attaches to a container recorded before a web-server restart. */
  reattach(execId: number, runtimeInfo: RuntimeInfo): Promise<void>;
  /** Removes what is left of a finished execution (working directory, pod, …) per retention. */
  cleanup(execId: number): Promise<void>;
  onEvent(listener: (e: RuntimeEvent) => void): () => void;
}

/** A launch failure; `transient` ones (429, 5xx, connection) are retried in place. */
export class RuntimeError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RuntimeError';
  }
}
