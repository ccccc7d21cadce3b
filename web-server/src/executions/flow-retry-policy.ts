/**
 * Flow-level retries, pure: reading `flow.retry.statuses`, `flow.max.retries` and
 * `flow.retry.strategy` at submit, and deciding, when a run ends, whether a new execution retries
 * it and which jobs that retry disables.
 */
import {
  FLOW_RETRY_STATUSES,
  FLOW_RETRY_STRATEGIES,
  type FlowRetryPolicy,
  type FlowRetryStatus,
  type FlowRetryStrategy,
} from '../../../common/control-api.js';
import { CaissonError } from '../../../common/errors.js';
import type { Status } from '../../../common/status.js';

export const FLOW_RETRY_KEYS = {
  statuses: 'flow.retry.statuses',
  maxRetries: 'flow.max.retries',
  strategy: 'flow.retry.strategy',
} as const;

/** Retries of the first run when `flow.retry.statuses` is set and `flow.max.retries` is not. */
export const DEFAULT_FLOW_MAX_RETRIES = 1;

/**
 * The retry policy of a submit from its properties (flow config under the flow parameters, the
 * parameters winning); undefined when `flow.retry.statuses` is absent or empty (never retried).
 */
export function parseFlowRetryPolicy(props: Readonly<Record<string, string>>): FlowRetryPolicy | undefined {
  const rawStatuses = props[FLOW_RETRY_KEYS.statuses]?.trim() ?? '';
  const statuses: FlowRetryStatus[] = [];
  for (const s of rawStatuses.split(',').map((v) => v.trim())) {
    if (s === '') continue;
    if (!(FLOW_RETRY_STATUSES as readonly string[]).includes(s)) {
      throw new CaissonError(
        'INVALID_PARAMETER',
        `${FLOW_RETRY_KEYS.statuses} lists statuses separated by commas, among ${FLOW_RETRY_STATUSES.join(', ')}; got "${s}".`,
      );
    }
    if (!statuses.includes(s as FlowRetryStatus)) statuses.push(s as FlowRetryStatus);
  }
  const rawMax = props[FLOW_RETRY_KEYS.maxRetries]?.trim();
  let maxRetries = DEFAULT_FLOW_MAX_RETRIES;
  if (rawMax !== undefined && rawMax !== '') {
    if (!/^\d+$/.test(rawMax))
      throw new CaissonError('INVALID_PARAMETER', `${FLOW_RETRY_KEYS.maxRetries} must be a whole number of 0 or more; got "${rawMax}".`);
    maxRetries = Number(rawMax);
  }
  const rawStrategy = props[FLOW_RETRY_KEYS.strategy]?.trim();
  let strategy: FlowRetryStrategy = 'retryAsNew';
  if (rawStrategy !== undefined && rawStrategy !== '') {
    if (!(FLOW_RETRY_STRATEGIES as readonly string[]).includes(rawStrategy)) {
      throw new CaissonError(
        'INVALID_PARAMETER',
        `${FLOW_RETRY_KEYS.strategy} must be one of ${FLOW_RETRY_STRATEGIES.join(', ')}; got "${rawStrategy}".`,
      );
    }
    strategy = rawStrategy as FlowRetryStrategy;
  }
  if (statuses.length === 0) return undefined;
  return { statuses, maxRetries, strategy };
}

/** What the decision needs to know about a run that just became final. */
export interface EndedRun {
  status: Status;
  /** 0 for a first run, n for its n-th retry. */
  retryCount: number;
  policy: FlowRetryPolicy | undefined;
  /** Jobs disabled at its submit. */
  disabled: readonly string[];
  /** Every attempt of every job (nested ids). */
  jobs: readonly { jobId: string; attempt: number; status: Status }[];
}

export type FlowRetryDecision = { retry: false; why: string } | { retry: true; retryCount: number; disabled: string[] };

/** Whether a run that ended gets a retry, and the jobs that retry disables. */
export function decideFlowRetry(run: EndedRun): FlowRetryDecision {
  const { policy } = run;
  if (!policy) return { retry: false, why: 'the flow sets no flow.retry.statuses' };
  if (!(policy.statuses as readonly string[]).includes(run.status))
    return { retry: false, why: `${run.status} is not in flow.retry.statuses (${policy.statuses.join(', ')})` };
  if (run.retryCount >= policy.maxRetries)
    return { retry: false, why: `the run is retry ${run.retryCount} of at most ${policy.maxRetries} (flow.max.retries)` };
  const disabled = [...run.disabled];
  if (policy.strategy === 'disableSucceededNodes') {
    const latest = new Map<string, { attempt: number; status: Status }>();
    for (const j of run.jobs) {
      const prev = latest.get(j.jobId);
      if (!prev || j.attempt > prev.attempt) latest.set(j.jobId, j);
    }
    const succeeded = [...latest.entries()]
      .filter(([id, j]) => j.status === 'SUCCEEDED' && !disabled.includes(id))
      .map(([id]) => id)
      .sort();
    disabled.push(...succeeded);
  }
  return { retry: true, retryCount: run.retryCount + 1, disabled };
}
