/**
 * How often a failed job is tried again, from its properties (Azkaban's `retries` and
 * `retry.backoff`, in milliseconds). Pure.
 *
 * - `retries`: extra attempts after the first fails (default 0; at most {@link MAX_RETRIES});
 * - `retry.backoff`: wait before each new attempt (default 0; at most {@link MAX_BACKOFF_MS}).
 * A value that is not a whole number ≥ 0 is ignored with a note, as Azkaban runs such a job once.
 */
import { layeredLookup, substituteProperties, type PropertyLayer } from '../../../common/dsl/properties.js';

export const MAX_RETRIES = 100;
export const MAX_BACKOFF_MS = 24 * 60 * 60 * 1000;

export interface RetryPolicy {
  retries: number;
  backoffMs: number;
  /** Why a value was ignored or capped. */
  notes: string[];
}

export function retryPolicyOf(properties: readonly PropertyLayer[]): RetryPolicy {
  const lookup = layeredLookup(properties);
  const notes: string[] = [];
  const read = (key: string, max: number): number => {
    const raw = lookup(key);
    if (raw === undefined || raw.trim() === '') return 0;
    const substituted = substituteProperties(raw, lookup);
    const text = substituted.ok ? substituted.value.trim() : raw.trim();
    if (!/^\d+$/.test(text)) {
      notes.push(`ignoring ${key} "${raw}": expected a whole number ≥ 0`);
      return 0;
    }
    const value = Number(text);
    if (value > max) {
      notes.push(`${key} ${value} is capped at ${max}`);
      return max;
    }
    return value;
  };
  return { retries: read('retries', MAX_RETRIES), backoffMs: read('retry.backoff', MAX_BACKOFF_MS), notes };
}
