/** The queue gauges' one query (issue 7): READY executions per priority and the oldest submit time. */
import type { Knex } from 'knex';

export interface QueueDepthRow {
  priority: number;
  count: number;
  oldestSubmitTime: number;
}

export async function readQueueDepth(db: Knex): Promise<QueueDepthRow[]> {
  // Reads only the READY range of ix_execution_flows_dispatch (status, priority DESC, submit_time, exec_id): index-only.
  const rows = (await db('execution_flows')
    .where({ status: 'READY' })
    .groupBy('priority')
    .select('priority')
    .count({ n: '*' })
    .min({ oldest: 'submit_time' })) as { priority: number | string; n: number | string; oldest: number | string }[];
  return rows
    .map((r) => ({ priority: Number(r.priority), count: Number(r.n), oldestSubmitTime: Number(r.oldest) }))
    .sort((a, b) => b.priority - a.priority);
}
