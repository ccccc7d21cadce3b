/** The scheduling options of one run, from its plan. Pure. */
import { FAILURE_ACTIONS, type ExecutionPlan, type FailureAction } from '../../../common/control-api.js';
import type { SchedulingOptions } from './scheduling.js';

export const FAILURE_ACTION_PROPERTY = 'failure.action';

/**
 * The failure action: the submit's, unless it did not insist (`failureActionOverride` false) and
 * the flow's `config:` sets `failure.action` (DESIGN §6). An unknown value in the flow is ignored
 * and reported in `notes`.
 */
export function schedulingOptionsFor(plan: Pick<ExecutionPlan, 'options' | 'flow' | 'numJobThreads'>): {
  options: SchedulingOptions;
  notes: string[];
} {
  const notes: string[] = [];
  let failureAction: FailureAction = plan.options.failureAction;
  const fromFlow = plan.flow.config[FAILURE_ACTION_PROPERTY];
  if (!plan.options.failureActionOverride && fromFlow !== undefined && fromFlow.trim() !== '') {
    const value = fromFlow.trim();
    if ((FAILURE_ACTIONS as readonly string[]).includes(value)) failureAction = value as FailureAction;
    else notes.push(`Ignoring ${FAILURE_ACTION_PROPERTY} "${fromFlow}": expected one of ${FAILURE_ACTIONS.join(', ')}`);
  }
  return {
    options: { failureAction, disabled: new Set(plan.options.disabled), maxRunningJobs: plan.numJobThreads },
    notes,
  };
}
