/** Shared helpers of the queue tests: a project row, READY executions, clean tables, waiting with a deadline. */
import type { Knex } from 'knex';
import { defaultExecutionOptions, type ExecutionOptions } from '../../../common/control-api.js';
import { ExecTokens } from '../../../web-server/src/executions/exec-token.js';
import { insertExecution } from '../../../web-server/src/executions/executions-store.js';
import type { LaunchPlan } from '../../../web-server/src/runtime/container-runtime.js';
import type { ExecutionRow } from '../../../web-server/src/executions/executions-store.js';

export const OPTIONS: ExecutionOptions = { ...defaultExecutionOptions(), concurrentOption: 'ignore' };

export const tokens = new ExecTokens(Buffer.alloc(32, 7));

export { insertProject } from '../../support/project-rows.js';

export async function submitExecution(
  db: Knex | Knex.Transaction,
  projectId: number,
  o: { priority?: number; submitTime?: number; flowId?: string } = {},
): Promise<number> {
  return insertExecution(db, {
    projectId,
    projectVersion: 1,
    flowId: o.flowId ?? 'f',
    priority: o.priority ?? 5,
    submitUser: 'u',
    submitTime: o.submitTime ?? 1000,
    executionSource: 'adhoc',
    scheduleId: null,
    options: OPTIONS,
    flowParams: {},
  });
}

/** Inserts `n` READY executions in one transaction; resolves to their ids. */
export async function submitMany(db: Knex, projectId: number, n: number): Promise<number[]> {
  return db.transaction(async (trx) => {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) ids.push(await submitExecution(trx, projectId, { submitTime: 1000 + i }));
    return ids;
  });
}

export async function cleanExecutions(db: Knex): Promise<void> {
  for (const t of ['execution_events', 'execution_logs', 'execution_jobs', 'execution_flows']) await db(t).del();
}

export async function statusCounts(db: Knex): Promise<Record<string, number>> {
  const rows = (await db('execution_flows').select('status').count({ n: '*' }).groupBy('status')) as {
    status: string;
    n: number | string;
  }[];
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** A launch plan as buildLaunchPlan would produce it (the dispatcher adds the token). */
export async function planOf(row: ExecutionRow): Promise<LaunchPlan> {
  return { execId: row.execId, projectName: 'p', flowId: row.flowId, jobTypes: [], env: {}, resources: {}, versionSetId: null };
}

/** Polls `condition` until it holds, failing after `timeoutMs` (never a blind sleep). */
export async function until(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string, everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Resolves with `promise`, or rejects when it takes longer than `timeoutMs`. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
