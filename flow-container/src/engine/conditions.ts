/**
 * Conditions on parents' statuses and outputs (Azkaban's conditional flows), for the scheduling
 * core. The expression language lives in common/dsl/condition.ts; this module applies the status
 * macro to parent statuses (with Azkaban's status groups) and reads `${job:param}` from the outputs
 * of the node's level. A node without a condition behaves as `all_success`. Pure.
 */
import {
  CONDITION_MACROS,
  evaluateCondition,
  parseCondition,
  type ConditionMacro,
  type ParsedCondition,
} from '../../../common/dsl/condition.js';
import { FAILED_GROUP, SUCCEEDED_GROUP, type Status } from '../../../common/status.js';

export { CONDITION_MACROS, type ConditionMacro };

export interface NodeCondition {
  macro: ConditionMacro;
  /** The parsed condition; undefined when the node has none. */
  parsed?: ParsedCondition;
  /** The condition as written, when the node has one. */
  text?: string;
  /** Set when the condition does not parse (uploads reject it; a plan may still carry one): why. */
  invalid?: string;
}

export function readCondition(condition: string | undefined): NodeCondition {
  if (condition === undefined || condition.trim() === '') return { macro: 'all_success' };
  const text = condition.trim();
  const parsed = parseCondition(text);
  if (!parsed.ok) return { macro: 'all_success', text, invalid: parsed.message };
  return { macro: parsed.condition.macro, parsed: parsed.condition, text };
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

export interface ConditionOutcome {
  /** Whether the node may run. */
  met: boolean;
  /** Why not, in a sentence, when it may not. */
  reason?: string;
}

/**
 * The whole condition: the macro on parent statuses first, then the expression on runtime
 * parameters (`params(job, param)` reads the output of a job of the node's level).
 */
export function evaluateNodeCondition(
  condition: NodeCondition,
  parentStatuses: readonly Status[],
  params: (job: string, param: string) => string | undefined,
): ConditionOutcome {
  if (condition.invalid !== undefined) return { met: false, reason: `its condition is invalid: ${condition.invalid}` };
  if (!isConditionMet(condition.macro, parentStatuses)) {
    return { met: false, reason: `the status macro ${condition.macro} does not hold for its parents` };
  }
  if (condition.parsed === undefined) return { met: true };
  if (evaluateCondition(condition.parsed, params)) return { met: true };
  const missing = condition.parsed.references.filter((r) => params(r.job, r.param) === undefined).map((r) => `\${${r.job}:${r.param}}`);
  const note = missing.length === 0 ? '' : ` (no value for ${[...new Set(missing)].join(', ')})`;
  return { met: false, reason: `its condition "${condition.text ?? ''}" is false${note}` };
}
