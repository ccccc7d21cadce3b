/**
 * Benchmark 2 — queue depth: the cost of one claim transaction (a batch of 50, the default) with
 * 1,000 vs 100,000 READY executions on MariaDB. Two databases are measured in alternating rounds;
 * after each claim its rows go back to READY (untimed) so the depth stays exact.
 */
import type { Knex } from 'knex';
import { createTestDatabase, type TestDatabase } from '../common/db/test-database.js';
import { migrateToLatest } from '../migrations/index.js';
import { ExecTokens } from '../web-server/src/executions/exec-token.js';
import { claimReady } from '../web-server/src/queue/claims-store.js';
import { mintExecToken } from '../web-server/src/queue/queue-processor.js';
import { insertBareProject, insertReadyExecutions, resetToReady } from './support/bench-store.js';
import { figure, type Benchmark } from './support/report.js';
import { median, msSince } from './support/stats.js';

const tokens = new ExecTokens(Buffer.alloc(32, 7));

async function queueOf(depth: number): Promise<TestDatabase> {
  const tdb = await createTestDatabase('mysql', migrateToLatest);
  const projectId = await insertBareProject(tdb.db, 'depth');
  await insertReadyExecutions(tdb.db, { projectId, projectVersion: 1, flowId: 'f', n: depth, submitTime: 1_000_000 });
  await tdb.db.raw('ANALYZE TABLE execution_flows');
  return tdb;
}

/** Median milliseconds of `claims` claim transactions of 50 rows each. */
async function claimCost(db: Knex, claims: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < claims; i++) {
    const start = process.hrtime.bigint();
    const rows = await claimReady(db, {
      claimer: 'bench',
      now: Date.now(),
      leaseMs: 60_000,
      limit: 50,
      mintToken: () => mintExecToken(tokens),
    });
    times.push(msSince(start));
    if (rows.length !== 50) throw new Error(`a claim took ${rows.length} rows, expected 50`);
    await resetToReady(
      db,
      rows.map((r) => r.execId),
    );
  }
  return median(times);
}

export const claimDepth: Benchmark = {
  id: '2',
  title: 'claim cost vs queue depth',
  async run(ctx) {
    const rounds = ctx.quick ? 3 : 7;
    const claims = ctx.quick ? 40 : 200;
    const started = process.hrtime.bigint();
    const shallow = await queueOf(1_000);
    const deep = await queueOf(100_000);
    ctx.log(`  filled 1,000 and 100,000 READY executions in ${(msSince(started) / 1000).toFixed(1)} s`);
    try {
      await claimCost(shallow.db, 5);
      await claimCost(deep.db, 5);
      const small: number[] = [];
      const large: number[] = [];
      const ratios: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const a = await claimCost(shallow.db, claims);
        const b = await claimCost(deep.db, claims);
        small.push(a);
        large.push(b);
        ratios.push(b / a);
        ctx.log(`  round ${r + 1}: ${a.toFixed(2)} ms at 1,000 READY, ${b.toFixed(2)} ms at 100,000 READY`);
      }
      return {
        figures: [
          figure('claim of 50 at 1,000 READY (median of a round)', 'ms', small),
          figure('claim of 50 at 100,000 READY (median of a round)', 'ms', large),
          figure('ratio 100,000 / 1,000', '×', ratios, { op: '<=', value: 1.5 }),
        ],
        notes: [
          `Each round: ${claims} claims per depth; a claim is one transaction (SELECT … FOR UPDATE SKIP LOCKED, UPDATE, re-read) and its commit.`,
        ],
      };
    } finally {
      await shallow.dispose();
      await deep.dispose();
    }
  },
};
