/** The benchmarks' own SQL: bulk READY executions and resets (fixtures, never product code). */
import type { Knex } from 'knex';
import { defaultExecutionOptions } from '../../common/control-api.js';

/** Inserts `n` READY executions of one flow, 1,000 rows per statement, in one transaction; returns nothing. */
export async function insertReadyExecutions(
  db: Knex,
  o: { projectId: number; projectVersion: number; flowId: string; n: number; submitTime: number; priority?: number },
): Promise<void> {
  const options = JSON.stringify({ ...defaultExecutionOptions(), concurrentOption: 'ignore' });
  await db.transaction(async (trx) => {
    for (let i = 0; i < o.n; i += 1000) {
      const rows = [];
      for (let j = i; j < Math.min(o.n, i + 1000); j++) {
        rows.push({
          project_id: o.projectId,
          project_version: o.projectVersion,
          flow_id: o.flowId,
          status: 'READY',
          priority: o.priority ?? 5,
          submit_user: 'bench',
          submit_time: o.submitTime + j,
          update_time: o.submitTime + j,
          execution_source: 'adhoc',
          schedule_id: null,
          attempt: 0,
          options,
          flow_params: '{}',
        });
      }
      await trx('execution_flows').insert(rows);
    }
  });
}

/** A bare project row (the claim benchmark needs no archive). */
export async function insertBareProject(db: Knex, name: string): Promise<number> {
  const [id] = await db('projects').insert({
    name,
    live_name: name,
    description: '',
    created_by: 'bench',
    created_at: 1,
    modified_by: 'bench',
    modified_at: 1,
  });
  return Number(id);
}

export async function projectIdOf(db: Knex, name: string): Promise<number> {
  const row = (await db('projects').where({ name }).first('id')) as { id: number } | undefined;
  if (!row) throw new Error(`no project ${name}`);
  return Number(row.id);
}

/** Puts claimed rows back to READY so the queue keeps its depth between measured claims. */
export async function resetToReady(db: Knex, ids: readonly number[]): Promise<void> {
  await db('execution_flows')
    .whereIn('exec_id', [...ids])
    .update({ status: 'READY', claimed_by: null, lease_until: null, token_nonce: null, token_hash: null });
}

export async function statusCounts(db: Knex): Promise<Record<string, number>> {
  const rows = (await db('execution_flows').select('status').count({ n: '*' }).groupBy('status')) as {
    status: string;
    n: number | string;
  }[];
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

export async function deleteExecutions(db: Knex): Promise<void> {
  for (const t of ['execution_events', 'execution_logs', 'execution_jobs', 'execution_flows']) await db(t).del();
}

/** Marks an execution RUNNING with `jobs` SUCCEEDED job rows (a status to poll). */
export async function seedJobs(db: Knex, execId: number, jobIds: readonly string[], now: number): Promise<void> {
  await db('execution_jobs').insert(
    jobIds.map((jobId, i) => ({
      exec_id: execId,
      job_id: jobId,
      attempt: 0,
      job_type: 'command',
      status: 'SUCCEEDED',
      start_time: now + i,
      end_time: now + i + 1,
      update_time: now + i + 1,
    })),
  );
  await db('execution_flows')
    .where({ exec_id: execId })
    .update({ status: 'RUNNING', start_time: now, update_time: now + jobIds.length });
}
