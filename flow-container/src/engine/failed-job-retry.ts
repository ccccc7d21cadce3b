/**
 * retryFailedJobs on a running flow (Azkaban's "retry failed jobs"), pure: which nodes go back to
 * READY (each with a new attempt) and which embedded flows leave FAILED_FINISHING, so that the
 * scheduling core decides them again. Only while the flow still runs: once every job has ended the
 * flow is final and a flow-level retry (a new execution) is the way to run it again.
 */
import type { Status } from '../../../common/status.js';
import { nodeOf, type ExecutionGraph } from './execution-graph.js';

/** Statuses of nodes that run again: failed, killed, and cancelled because of a failure. */
const RETRIED: readonly Status[] = ['FAILED', 'KILLED', 'CANCELLED'];

export interface FailedJobRetry {
  /** Nodes (jobs and embedded flows) to set back to READY with a new attempt, in graph order. */
  reset: string[];
  /** Embedded flows in FAILED_FINISHING that run again (RUNNING, same attempt). */
  reopen: string[];
}

/** The nodes a retryFailedJobs sets back; empty when nothing failed. The flow must not be KILLING or final. */
export function failedJobsToRetry(graph: ExecutionGraph, statuses: ReadonlyMap<string, Status>): FailedJobRetry {
  const statusOf = (id: string): Status => statuses.get(id) ?? 'READY';
  const reset = graph.order.filter((id) => RETRIED.includes(statusOf(id)));
  if (!reset.some((id) => !nodeOf(graph, id).isFlow && statusOf(id) !== 'CANCELLED')) return { reset: [], reopen: [] };
  const reopen = graph.order.filter((id) => nodeOf(graph, id).isFlow && statusOf(id) === 'FAILED_FINISHING');
  return { reset, reopen };
}
