/**
 * Statuses (Azkaban's names and numeric codes), their groups, and the one transition table every
 * status write is checked against (DESIGN §3). Writes are compare-and-set on the legal
 * predecessors returned by `predecessorsOf`.
 */
export const STATUS_CODES = {
  READY: 10,
  DISPATCHING: 15,
  PREPARING: 20,
  RUNNING: 30,
  PAUSED: 40,
  SUCCEEDED: 50,
  KILLING: 55,
  KILLED: 60,
  EXECUTION_STOPPED: 65,
  FAILED: 70,
  FAILED_FINISHING: 80,
  SKIPPED: 90,
  DISABLED: 100,
  QUEUED: 110,
  FAILED_SUCCEEDED: 120,
  CANCELLED: 125,
} as const;

export type Status = keyof typeof STATUS_CODES;

export const FLOW_FINAL_STATUSES: readonly Status[] = ['SUCCEEDED', 'FAILED', 'KILLED', 'EXECUTION_STOPPED'];
export const SUCCEEDED_GROUP: readonly Status[] = ['SUCCEEDED', 'SKIPPED', 'FAILED_SUCCEEDED'];
export const FAILED_GROUP: readonly Status[] = ['FAILED', 'KILLED', 'CANCELLED', 'EXECUTION_STOPPED'];
/** Job statuses after which a job never changes again (within one attempt). */
export const JOB_FINAL_STATUSES: readonly Status[] = [
  'SUCCEEDED',
  'FAILED',
  'KILLED',
  'CANCELLED',
  'SKIPPED',
  'DISABLED',
  'FAILED_SUCCEEDED',
  'EXECUTION_STOPPED',
];
/** Flow statuses in which a container may be alive. */
export const FLOW_ACTIVE_STATUSES: readonly Status[] = ['DISPATCHING', 'PREPARING', 'RUNNING', 'FAILED_FINISHING', 'KILLING'];

export function isStatus(s: string): s is Status {
  return Object.prototype.hasOwnProperty.call(STATUS_CODES, s);
}

export function isFlowFinal(s: Status): boolean {
  return FLOW_FINAL_STATUSES.includes(s);
}

export function isJobFinal(s: Status): boolean {
  return JOB_FINAL_STATUSES.includes(s);
}

/**
 * Legal flow transitions: from → allowed targets. A final status has no successors.
 * DISPATCHING → DISPATCHING is the in-place takeover of an expired lease.
 */
export const FLOW_TRANSITIONS: Readonly<Record<Status, readonly Status[]>> = {
  READY: ['DISPATCHING', 'KILLED'],
  DISPATCHING: ['DISPATCHING', 'PREPARING', 'KILLED', 'EXECUTION_STOPPED'],
  PREPARING: ['RUNNING', 'KILLING', 'KILLED', 'EXECUTION_STOPPED', 'FAILED_FINISHING', 'SUCCEEDED', 'FAILED'],
  RUNNING: ['FAILED_FINISHING', 'KILLING', 'SUCCEEDED', 'FAILED', 'KILLED', 'EXECUTION_STOPPED'],
  // Back to RUNNING when retryFailedJobs sets the failed jobs of a still-running flow back.
  FAILED_FINISHING: ['FAILED', 'KILLING', 'KILLED', 'EXECUTION_STOPPED', 'RUNNING'],
  KILLING: ['KILLED', 'EXECUTION_STOPPED'],
  PAUSED: ['RUNNING', 'KILLING', 'KILLED', 'EXECUTION_STOPPED'],
  QUEUED: ['READY', 'KILLED'],
  SUCCEEDED: [],
  FAILED: [],
  KILLED: [],
  EXECUTION_STOPPED: [],
  SKIPPED: [],
  DISABLED: [],
  FAILED_SUCCEEDED: [],
  CANCELLED: [],
};

export function canTransition(from: Status, to: Status): boolean {
  return FLOW_TRANSITIONS[from].includes(to);
}

/** The statuses from which `to` may be reached: the WHERE clause of a compare-and-set. */
export function predecessorsOf(to: Status): Status[] {
  return (Object.keys(FLOW_TRANSITIONS) as Status[]).filter((from) => FLOW_TRANSITIONS[from].includes(to));
}

/** Legal job transitions (per attempt). */
export const JOB_TRANSITIONS: Readonly<Record<Status, readonly Status[]>> = {
  READY: ['QUEUED', 'RUNNING', 'CANCELLED', 'SKIPPED', 'DISABLED', 'KILLED', 'SUCCEEDED', 'FAILED'],
  QUEUED: ['RUNNING', 'CANCELLED', 'KILLED'],
  RUNNING: ['SUCCEEDED', 'FAILED', 'KILLED', 'KILLING', 'FAILED_SUCCEEDED', 'FAILED_FINISHING', 'CANCELLED', 'EXECUTION_STOPPED'],
  KILLING: ['KILLED', 'FAILED', 'SUCCEEDED'],
  FAILED_FINISHING: ['FAILED', 'KILLED', 'RUNNING'],
  DISPATCHING: [],
  PREPARING: [],
  PAUSED: ['RUNNING', 'KILLED'],
  SUCCEEDED: [],
  FAILED: [],
  KILLED: [],
  EXECUTION_STOPPED: [],
  SKIPPED: [],
  // Disabled at submit; the run marks it SKIPPED when it reaches it (or CANCELLED if it never does).
  DISABLED: ['SKIPPED', 'CANCELLED'],
  FAILED_SUCCEEDED: [],
  CANCELLED: [],
};

/** A repeated status is allowed (an event may restate it); a final job status is never left. */
export function canJobTransition(from: Status, to: Status): boolean {
  return (from === to && JOB_TRANSITIONS[from].length > 0) || JOB_TRANSITIONS[from].includes(to);
}
