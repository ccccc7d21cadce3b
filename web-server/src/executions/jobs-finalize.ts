/** When an execution becomes final, jobs left unfinished get Azkaban's statuses. */
import type { Knex } from 'knex';

/** Running jobs → KILLED; jobs never started → CANCELLED (disabled ones stay DISABLED). */
export async function finalizeJobsOf(db: Knex | Knex.Transaction, execId: number, now: number): Promise<void> {
  await db('execution_jobs')
    .where({ exec_id: execId })
    .whereIn('status', ['RUNNING', 'QUEUED', 'KILLING', 'FAILED_FINISHING'])
    .update({ status: 'KILLED', end_time: now, update_time: now });
  await db('execution_jobs')
    .where({ exec_id: execId })
    .where({ status: 'READY' })
    .update({ status: 'CANCELLED', end_time: now, update_time: now });
}
