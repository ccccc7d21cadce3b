/**
 * Maximum run times, from properties (Caisson extensions; Azkaban has no per-job limit). Pure.
 *
 * - `job.timeout` on a job (or inherited from an embedded flow or the flow): past it the job's
 *   processes are killed and the attempt ends FAILED (retries then apply);
 * - `flow.max.running.time` in the flow's config or flow parameters: past it the flow is killed
 *   (default {@link DEFAULT_FLOW_MAX_RUNNING_MS}, 10 days, as Azkaban's containerized executions).
 * Values are durations: `500ms`, `30s`, `15m`, `24h`, `7d`, or plain milliseconds; `0` means none.
 */
import { parseDuration } from '../config/parse.js';
import { layeredLookup, type PropertyLayer } from './properties.js';

export const JOB_TIMEOUT_PROPERTY = 'job.timeout';
export const FLOW_MAX_RUNNING_PROPERTY = 'flow.max.running.time';
export const DEFAULT_FLOW_MAX_RUNNING_MS = 10 * 24 * 60 * 60 * 1000;

export interface Limit {
  /** Milliseconds, or undefined for no limit. */
  ms: number | undefined;
  /** Set when the written value was ignored: why. */
  note?: string;
}

function readLimit(layers: readonly PropertyLayer[], key: string, fallback: number | undefined): Limit {
  const raw = layeredLookup(layers)(key);
  if (raw === undefined || raw.trim() === '') return { ms: fallback };
  try {
    const ms = parseDuration(raw);
    return { ms: ms === 0 ? undefined : ms };
  } catch {
    return { ms: fallback, note: `ignoring ${key} "${raw}": expected a duration like 500ms, 30s, 15m, 24h or 7d` };
  }
}

/** The job's maximum run time (its property layers, highest precedence first). */
export function jobTimeoutOf(properties: readonly PropertyLayer[]): Limit {
  return readLimit(properties, JOB_TIMEOUT_PROPERTY, undefined);
}

/** The flow's maximum running time: flow parameters of the run over the flow's config. */
export function flowMaxRunningOf(flowParams: PropertyLayer, flowConfig: PropertyLayer): Limit {
  return readLimit([flowParams, flowConfig], FLOW_MAX_RUNNING_PROPERTY, DEFAULT_FLOW_MAX_RUNNING_MS);
}

/** A duration for messages: `1500 ms`, `30 s`. */
export function describeDuration(ms: number): string {
  return ms < 1000 || ms % 1000 !== 0 ? `${ms} ms` : `${ms / 1000} s`;
}
