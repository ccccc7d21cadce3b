/**
 * Conditions on parent statuses (Azkaban's conditional flows). Only the plain status macros are
 * evaluated today; a node without a condition behaves as `all_success`. A condition written as an
 * expression (`${jobA:param} == 1`, `one_failed && …`) is run as `all_success` and the flow log
 * says so: expressions on runtime parameters come with the conditions issue, through this module.
 * Pure.
 */
import { FAILED_GROUP, SUCCEEDED_GROUP, type Status } from '../../../common/status.js';

export type ConditionMacro = 'all_success' | 'all_failed' | 'all_done' | 'one_success' | 'one_failed';

export const CONDITION_MACROS: readonly ConditionMacro[] = ['all_success', 'all_failed', 'all_done', 'one_success', 'one_failed'];

export interface NodeCondition {
  macro: ConditionMacro;
  /** Set when the condition was not a plain macro and is run as `all_success`. */
  unsupported?: string;
}

export function readCondition(condition: string | undefined): NodeCondition {
  if (condition === undefined || condition.trim() === '') return { macro: 'all_success' };
  const text = condition.trim();
  if ((CONDITION_MACROS as readonly string[]).includes(text)) return { macro: text as ConditionMacro };
  return { macro: 'all_success', unsupported: text };
}

/**
 * Whether a node whose parents are all final may run under `macro`. With no parents every macro
 * holds (the node is a start node).
 */
export function isConditionMet(macro: ConditionMacro, parentStatuses: readonly Status[]): boolean {
  if (parentStatuses.length === 0) return true;
  const succeeded = parentStatuses.filter((s) => SUCCEEDED_GROUP.includes(s)).length;
  const failed = parentStatuses.filter((s) => FAILED_GROUP.includes(s)).length;
  switch (macro) {
    case 'all_success':
      return failed === 0;
    case 'all_failed':
      return succeeded === 0;
    case 'all_done':
      return true;
    case 'one_success':
      return succeeded > 0;
    case 'one_failed':
      return failed > 0;
  }
}
