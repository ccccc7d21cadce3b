/**
 * What the pod watcher concludes from one look at a flow pod: healthy, still within a grace, stop the
 * execution now (EXECUTION_STOPPED with a `failure_reason` naming the image, key, jobtype, limit or
 * node involved), or wait for the flow container's final report. Pure: time is the `now` argument and
 * what must be remembered between looks travels in the returned memo.
 */
import type { V1ContainerState, V1ContainerStatus, V1Pod, V1PodCondition } from '@kubernetes/client-node';

/** What the watcher remembers about one pod between looks (ms since the epoch). */
export interface PodWatchMemo {
  pullFailingSince?: number;
  unschedulableSince?: number;
  appTerminatedAt?: number;
}

export interface FailureGraces {
  imagePullGraceMs: number;
  pendingTimeoutMs: number;
}

export type PodAssessment =
  /** Healthy, or a problem still within its grace. */
  | { action: 'none' }
  /** End the execution EXECUTION_STOPPED with this reason now. */
  | { action: 'stop'; reason: string }
  /** The flow container terminated: if the execution is not final by since + finalReportGrace, stop with `reason`. */
  | { action: 'await-final-report'; since: number; reason: string };

export const FLOW_CONTAINER_NAME = 'flow-container';
export const JOBTYPE_INIT_PREFIX = 'jobtype-init-';

const PULL_FAILURES: ReadonlySet<string> = new Set(['ErrImagePull', 'ImagePullBackOff']);
const IMMEDIATE_WAITING_FAILURES: ReadonlySet<string> = new Set([
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'ErrImageNeverPull',
]);

/** 'jobtype-init-bash' → 'bash'; undefined for any other name. */
export function jobtypeOfInitContainer(name: string): string | undefined {
  if (!name.startsWith(JOBTYPE_INIT_PREFIX)) return undefined;
  const jobtype = name.slice(JOBTYPE_INIT_PREFIX.length);
  return jobtype === '' ? undefined : jobtype;
}

/** The reason for a pod deleted while its execution was still live. */
export function podDeletedReason(cancelRequested: boolean): { status: 'KILLED' | 'EXECUTION_STOPPED'; reason?: string } {
  if (cancelRequested) return { status: 'KILLED' };
  return { status: 'EXECUTION_STOPPED', reason: 'the pod was deleted while the execution was running' };
}

/** A compact picture of the pod for POD_PHASE_CHANGED events. */
export function podPhaseSummary(pod: V1Pod): { phase: string; reason?: string; message?: string; containers: Record<string, string> } {
  const status = pod.status;
  const summary: { phase: string; reason?: string; message?: string; containers: Record<string, string> } = {
    phase: status?.phase ?? 'Pending',
    containers: {},
  };
  let reason = nonEmpty(status?.reason);
  let message = nonEmpty(status?.message);
  if (reason === undefined && message === undefined) {
    const scheduled = findCondition(pod, 'PodScheduled');
    if (scheduled?.status === 'False') {
      reason = nonEmpty(scheduled.reason);
      message = nonEmpty(scheduled.message);
    }
  }
  if (reason !== undefined) summary.reason = reason;
  if (message !== undefined) summary.message = message;
  for (const cs of [...(status?.initContainerStatuses ?? []), ...(status?.containerStatuses ?? [])]) {
    summary.containers[cs.name] = compactState(cs.state);
  }
  return summary;
}

/**
 * Decides what one look at the pod means for its execution, and the memo to keep for the next look.
 * Precedence: eviction/node loss/deadline, OOM, init failure, immediate waiting errors, image pull past
 * its grace, unschedulable past its timeout, flow container terminated.
 */
export function assessPod(
  pod: V1Pod,
  memo: PodWatchMemo,
  now: number,
  graces: FailureGraces,
): { assessment: PodAssessment; memo: PodWatchMemo } {
  const inits = pod.status?.initContainerStatuses ?? [];
  const apps = pod.status?.containerStatuses ?? [];
  const all = [...inits, ...apps];

  // The memo is brought up to date whatever the verdict, so a recovered problem never leaves a stale start.
  const pulling = all.find((cs) => PULL_FAILURES.has(cs.state?.waiting?.reason ?? ''));
  const pullFailingSince = pulling ? (memo.pullFailingSince ?? now) : undefined;
  const unschedulable = unschedulableCondition(pod);
  const unschedulableSince = unschedulable ? (memo.unschedulableSince ?? now) : undefined;
  const appTerminated = apps.find((cs) => cs.name === FLOW_CONTAINER_NAME)?.state?.terminated;
  const podFinished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
  const appTerminatedAt =
    appTerminated || podFinished
      ? (memo.appTerminatedAt ?? (appTerminated ? toMs(appTerminated.finishedAt) : undefined) ?? now)
      : undefined;
  const next: PodWatchMemo = {};
  if (pullFailingSince !== undefined) next.pullFailingSince = pullFailingSince;
  if (unschedulableSince !== undefined) next.unschedulableSince = unschedulableSince;
  if (appTerminatedAt !== undefined) next.appTerminatedAt = appTerminatedAt;
  const stop = (reason: string): { assessment: PodAssessment; memo: PodWatchMemo } => ({
    assessment: { action: 'stop', reason },
    memo: next,
  });

  const podLevel = podLevelFailure(pod);
  if (podLevel !== undefined) return stop(podLevel);

  for (const cs of all) {
    const terminated = cs.state?.terminated;
    if (terminated?.reason === 'OOMKilled' && !isSidecar(pod, cs.name)) {
      const limit = specContainer(pod, cs.name)?.resources?.limits?.['memory'];
      const limitText = limit === undefined || String(limit) === '' ? 'unknown' : String(limit);
      return stop(`${containerSubject(cs.name)} was killed for using more than its memory limit of ${limitText} (OOMKilled)`);
    }
  }

  for (const cs of inits) {
    if (isSidecar(pod, cs.name)) continue;
    const failed = failedRun(cs);
    if (failed === undefined) continue;
    const jobtype = jobtypeOfInitContainer(cs.name);
    const image = imageOf(pod, cs);
    const head =
      jobtype !== undefined
        ? `the init container of jobtype ${jobtype} (${cs.name}, image ${image}) exited with code ${failed.exitCode}`
        : `init container ${cs.name} (image ${image}) exited with code ${failed.exitCode}`;
    return stop(head + parenthesized(failed.reason, failed.message));
  }

  for (const cs of all) {
    const waiting = cs.state?.waiting;
    if (waiting === undefined || !IMMEDIATE_WAITING_FAILURES.has(waiting.reason ?? '')) continue;
    const image = imageOf(pod, cs);
    const who = containerLabel(cs.name);
    const message = nonEmpty(waiting.message);
    switch (waiting.reason) {
      case 'InvalidImageName':
        return stop(`invalid image name "${image}" for container ${who}` + colon(message));
      case 'CreateContainerConfigError':
        return stop(`cannot start container ${who}` + colon(message ?? 'CreateContainerConfigError'));
      case 'CreateContainerError':
        return stop(`cannot create container ${who} from image "${image}"` + colon(message ?? 'CreateContainerError'));
      default:
        return stop(
          `image "${image}" of container ${who} is not on the node and the image pull policy is Never (ErrImageNeverPull)` + colon(message),
        );
    }
  }

  if (pulling !== undefined && pullFailingSince !== undefined && now - pullFailingSince >= graces.imagePullGraceMs) {
    const waiting = pulling.state?.waiting;
    const detail = parenthesized(waiting?.reason, waiting?.message);
    return stop(
      `could not pull image "${imageOf(pod, pulling)}" for ${seconds(now - pullFailingSince)} s${detail} in container ${containerLabel(pulling.name)}`,
    );
  }

  if (unschedulable !== undefined && unschedulableSince !== undefined && now - unschedulableSince >= graces.pendingTimeoutMs) {
    return stop(`the pod could not be scheduled for ${seconds(now - unschedulableSince)} s` + colon(nonEmpty(unschedulable.message)));
  }

  if (appTerminatedAt !== undefined) {
    const code = appTerminated ? String(appTerminated.exitCode) : 'unknown';
    const detail = appTerminated
      ? parenthesized(appTerminated.reason, appTerminated.message)
      : ` (pod phase ${pod.status?.phase ?? 'unknown'}, no container status)`;
    return {
      assessment: {
        action: 'await-final-report',
        since: appTerminatedAt,
        reason: `the flow container exited with code ${code}${detail} before reporting a final status`,
      },
      memo: next,
    };
  }

  return { assessment: { action: 'none' }, memo: next };
}

/** Eviction, node loss, disruption, deadline: the pod as a whole is gone or going. */
function podLevelFailure(pod: V1Pod): string | undefined {
  const status = pod.status;
  const message = nonEmpty(status?.message);
  if (status?.reason === 'Evicted') return 'the pod was evicted' + colon(message);
  if (status?.reason === 'DeadlineExceeded') {
    const deadline = pod.spec?.activeDeadlineSeconds;
    return `the pod ran past its activeDeadlineSeconds (${deadline ?? 'unknown'} s)`;
  }
  if (status?.reason === 'NodeLost' || status?.phase === 'Unknown') {
    return `the node running the pod (${nodeOf(pod)}) was lost` + colon(message);
  }
  const disruption = findCondition(pod, 'DisruptionTarget');
  if (disruption?.status === 'True') {
    const why = nonEmpty(disruption.reason) ?? 'DisruptionTarget';
    return `the pod was disrupted on node ${nodeOf(pod)} (${why})` + colon(nonEmpty(disruption.message));
  }
  return undefined;
}

/** The PodScheduled=False/Unschedulable condition of a pending pod, if any. */
function unschedulableCondition(pod: V1Pod): V1PodCondition | undefined {
  const phase = pod.status?.phase ?? 'Pending';
  if (phase !== 'Pending') return undefined;
  const scheduled = findCondition(pod, 'PodScheduled');
  return scheduled?.status === 'False' && scheduled.reason === 'Unschedulable' ? scheduled : undefined;
}

/** A non-zero termination of an init container: its current state, or its last one while it backs off. */
function failedRun(cs: V1ContainerStatus): { exitCode: number; reason?: string; message?: string } | undefined {
  const terminated = cs.state?.terminated;
  if (terminated !== undefined) return terminated.exitCode !== 0 ? terminated : undefined;
  const last = cs.lastState?.terminated;
  if (cs.state?.waiting?.reason === 'CrashLoopBackOff' && last !== undefined && last.exitCode !== 0) return last;
  return undefined;
}

function findCondition(pod: V1Pod, type: string): V1PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === type);
}

function specContainer(
  pod: V1Pod,
  name: string,
): { image?: string; restartPolicy?: string; resources?: { limits?: Record<string, string> } } | undefined {
  return pod.spec?.containers.find((c) => c.name === name) ?? pod.spec?.initContainers?.find((c) => c.name === name);
}

/** Native sidecars (init containers with restartPolicy Always) are restarted by the kubelet, so their exits are not fatal. */
function isSidecar(pod: V1Pod, name: string): boolean {
  return pod.spec?.initContainers?.find((c) => c.name === name)?.restartPolicy === 'Always';
}

/** The image as written in the pod spec (what the user configured), else the one the status reports. */
function imageOf(pod: V1Pod, cs: V1ContainerStatus): string {
  return nonEmpty(specContainer(pod, cs.name)?.image) ?? nonEmpty(cs.image) ?? 'unknown';
}

function nodeOf(pod: V1Pod): string {
  return nonEmpty(pod.spec?.nodeName) ?? nonEmpty(pod.status?.hostIP) ?? 'unknown node';
}

/** 'flow-container', or 'jobtype-init-bash (jobtype bash)'. */
function containerLabel(name: string): string {
  const jobtype = jobtypeOfInitContainer(name);
  return jobtype === undefined ? name : `${name} (jobtype ${jobtype})`;
}

/** The subject of a sentence about a container. */
function containerSubject(name: string): string {
  if (name === FLOW_CONTAINER_NAME) return 'the flow container';
  const jobtype = jobtypeOfInitContainer(name);
  return jobtype === undefined ? `container ${name}` : `the init container of jobtype ${jobtype} (${name})`;
}

function compactState(state: V1ContainerState | undefined): string {
  if (state?.running) return 'running';
  if (state?.terminated) {
    const { exitCode, reason } = state.terminated;
    return reason && reason !== 'Completed' && reason !== 'Error' ? `terminated:${exitCode}:${reason}` : `terminated:${exitCode}`;
  }
  if (state?.waiting) return state.waiting.reason ? `waiting:${state.waiting.reason}` : 'waiting';
  return 'unknown';
}

/** ' (Reason: message)', ' (Reason)', ' (message)' or ''. */
function parenthesized(reason: string | undefined, message: string | undefined): string {
  const r = nonEmpty(reason);
  const m = nonEmpty(message);
  if (r !== undefined && m !== undefined) return ` (${r}: ${m})`;
  const one = r ?? m;
  return one === undefined ? '' : ` (${one})`;
}

function colon(message: string | undefined): string {
  return message === undefined ? '' : `: ${message}`;
}

function nonEmpty(text: string | undefined | null): string | undefined {
  if (text === undefined || text === null) return undefined;
  const trimmed = String(text).trim();
  return trimmed === '' ? undefined : trimmed;
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** Client-node types these as Date, but an object straight from JSON carries strings. */
function toMs(value: Date | string | undefined | null): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(String(value));
  return Number.isFinite(ms) ? ms : undefined;
}
