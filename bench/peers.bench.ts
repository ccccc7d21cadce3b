/**
 * Benchmark 10 — peers measured in the same run.
 * (a) Azkaban's claim pattern, written here as a labelled baseline on our own tables: a named lock
 *     (GET_LOCK) around a transaction that selects ONE READY row FOR UPDATE and updates it, one
 *     row per lock and commit — against our claim (SELECT … FOR UPDATE SKIP LOCKED of a batch of 50,
 *     one UPDATE, one commit). Both drain the same number of READY rows, alternating rounds; the
 *     figure is rows claimed per second and the ratio ours ÷ baseline.
 * (b) graphile-worker on the local PostgreSQL processing no-op jobs, jobs per second, beside our
 *     queue core's executions per second (benchmark 1, same run). graphile-worker is an optional
 *     peer: when it cannot be imported the benchmark says SKIPPED and why.
 */
import type { Knex } from 'knex';
import { createTestDatabase } from '../common/db/test-database.js';
import { migrateToLatest } from '../migrations/index.js';
import { ExecTokens } from '../web-server/src/executions/exec-token.js';
import { claimReady } from '../web-server/src/queue/claims-store.js';
import { mintExecToken } from '../web-server/src/queue/queue-processor.js';
import { deleteExecutions, insertBareProject, insertReadyExecutions, statusCounts } from './support/bench-store.js';
import { figure, type Benchmark, type BenchResult, type Figure } from './support/report.js';
import { msSince } from './support/stats.js';

const tokens = new ExecTokens(Buffer.alloc(32, 7));
const LOCK_NAME = 'caisson_bench_azkaban_claim';

/**
 * Azkaban's pattern (labelled baseline, not product code): GET_LOCK, then in a transaction the best
 * READY row FOR UPDATE, one UPDATE of that row, commit, RELEASE_LOCK. Resolves to false when the
 * queue is empty.
 */
async function claimOneWithNamedLock(db: Knex, claimer: string, now: number): Promise<boolean> {
  return db.transaction(async (trx) => {
    const [[lock]] = (await trx.raw('SELECT GET_LOCK(?, 10) AS got', [LOCK_NAME])) as [[{ got: number }]];
    if (Number(lock.got) !== 1) throw new Error('GET_LOCK timed out');
    try {
      const row = (await trx('execution_flows')
        .select('exec_id')
        .where({ status: 'READY' })
        .orderBy([
          { column: 'priority', order: 'desc' },
          { column: 'submit_time', order: 'asc' },
          { column: 'exec_id', order: 'asc' },
        ])
        .limit(1)
        .forUpdate()
        .first()) as { exec_id: number } | undefined;
      if (!row) return false;
      await trx('execution_flows')
        .where({ exec_id: row.exec_id })
        .update({
          status: 'DISPATCHING',
          claimed_by: claimer,
          lease_until: now + 60_000,
          attempt: trx.raw('attempt + 1'),
          update_time: now,
        });
      return true;
    } finally {
      await trx.raw('SELECT RELEASE_LOCK(?)', [LOCK_NAME]);
    }
  });
}

async function drainWithNamedLock(db: Knex, n: number): Promise<number> {
  const start = process.hrtime.bigint();
  let claimed = 0;
  while (await claimOneWithNamedLock(db, 'azkaban-pattern', Date.now())) claimed++;
  const ms = msSince(start);
  if (claimed !== n) throw new Error(`the baseline claimed ${claimed} of ${n}`);
  return n / (ms / 1000);
}

async function drainWithOurClaim(db: Knex, n: number): Promise<number> {
  const start = process.hrtime.bigint();
  let claimed = 0;
  for (;;) {
    const rows = await claimReady(db, {
      claimer: 'caisson',
      now: Date.now(),
      leaseMs: 60_000,
      limit: 50,
      mintToken: () => mintExecToken(tokens),
    });
    if (rows.length === 0) break;
    claimed += rows.length;
  }
  const ms = msSince(start);
  if (claimed !== n) throw new Error(`our claim took ${claimed} of ${n}`);
  return n / (ms / 1000);
}

async function azkabanClaimPattern(quick: boolean, log: (line: string) => void): Promise<{ figures: Figure[]; notes: string[] }> {
  const n = quick ? 1_000 : 5_000;
  const rounds = quick ? 3 : 5;
  const tdb = await createTestDatabase('mysql', migrateToLatest);
  try {
    const projectId = await insertBareProject(tdb.db, 'peers');
    const ours: number[] = [];
    const theirs: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const fill = async (): Promise<void> => {
        await deleteExecutions(tdb.db);
        await insertReadyExecutions(tdb.db, { projectId, projectVersion: 1, flowId: 'f', n, submitTime: 1_000_000 });
      };
      await fill();
      const a = await drainWithNamedLock(tdb.db, n);
      if ((await statusCounts(tdb.db)).DISPATCHING !== n) throw new Error('the baseline left rows unclaimed');
      await fill();
      const b = await drainWithOurClaim(tdb.db, n);
      theirs.push(a);
      ours.push(b);
      ratios.push(b / a);
      log(
        `  (a) round ${r + 1}: named lock, one row per transaction ${a.toFixed(0)} rows/s; skip-locked batch of 50 ${b.toFixed(0)} rows/s`,
      );
    }
    return {
      figures: [
        figure(
          `(a) baseline: Azkaban's claim pattern (GET_LOCK + one row FOR UPDATE + one UPDATE per commit), ${n} rows`,
          'rows/s',
          theirs,
        ),
        figure(`(a) ours: claimReady (SKIP LOCKED batch of 50, one UPDATE, one commit), ${n} rows`, 'rows/s', ours),
        figure('(a) ratio ours / baseline', '×', ratios),
      ],
      notes: [
        "(a) measures claims only (no launch): one client draining the same READY rows of our own table, Azkaban's pattern re-implemented in the benchmark as a labelled baseline (not Azkaban's code), one process each, alternating rounds.",
      ],
    };
  } finally {
    await tdb.dispose();
  }
}

/** The parts of graphile-worker 0.16/0.17 this benchmark uses. */
interface GraphileWorker {
  run(options: {
    pgPool: PgPool;
    concurrency: number;
    noHandleSignals: boolean;
    pollInterval: number;
    taskList: Record<string, () => Promise<void>>;
    logger?: unknown;
  }): Promise<{ events: { on(event: 'job:success', f: () => void): void }; stop(): Promise<void> }>;
  runMigrations(options: { connectionString: string }): Promise<void>;
  Logger: new (factory: () => (level: string, message: string) => void) => unknown;
}
interface PgPool {
  on(event: 'error', f: (e: unknown) => void): void;
  on(event: 'connect', f: (client: { on(event: 'error', f: (e: unknown) => void): void }) => void): void;
  end(): Promise<void>;
}
interface PgClient {
  connect(): Promise<void>;
  query(sql: string, params?: unknown[]): Promise<unknown>;
  end(): Promise<void>;
}

const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432';

async function importOptional<T>(name: string): Promise<T | undefined> {
  try {
    return (await import(name)) as T;
  } catch {
    return undefined;
  }
}

async function graphileWorkerPeer(
  quick: boolean,
  log: (line: string) => void,
): Promise<{ figures: Figure[]; notes: string[]; skipped?: string }> {
  const worker = await importOptional<GraphileWorker>('graphile-worker');
  const pg = await importOptional<{
    default: {
      Client: new (o: { connectionString: string }) => PgClient;
      Pool: new (o: { connectionString: string; max: number }) => PgPool;
    };
  }>('pg');
  if (!worker || !pg) return { figures: [], notes: [], skipped: 'graphile-worker not installed' };
  const n = quick ? 2_000 : 10_000;
  const rounds = quick ? 3 : 5;
  const dbName = `caisson_bench_gw_${process.pid}_${Date.now()}`;
  const admin = new pg.default.Client({ connectionString: `${POSTGRES_URL}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const connectionString = `${POSTGRES_URL}/${dbName}`;
  const client = new pg.default.Client({ connectionString });
  // The worker's connections are ours, so they are closed before the database is dropped.
  const pool = new pg.default.Pool({ connectionString, max: 20 });
  pool.on('error', () => undefined);
  pool.on('connect', (c) => c.on('error', () => undefined));
  try {
    await worker.runMigrations({ connectionString });
    await client.connect();
    const rates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // One statement adds all jobs (graphile_worker.add_jobs), like our one-transaction insert of READY rows.
      await client.query(
        `SELECT graphile_worker.add_jobs(array(SELECT ROW('noop', '{}'::json, NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec FROM generate_series(1, $1)))`,
        [n],
      );
      let done = 0;
      let finish: () => void = () => undefined;
      const allDone = new Promise<void>((resolve) => (finish = resolve));
      const start = process.hrtime.bigint();
      const runner = await worker.run({
        pgPool: pool,
        concurrency: 16,
        noHandleSignals: true,
        pollInterval: 100,
        taskList: { noop: async () => undefined },
        logger: new worker.Logger(() => () => undefined),
      });
      runner.events.on('job:success', () => {
        if (++done === n) finish();
      });
      await allDone;
      const ms = msSince(start);
      await runner.stop();
      rates.push(n / (ms / 1000));
      log(`  (b) round ${r + 1}: graphile-worker ran ${n} no-op jobs in ${ms.toFixed(0)} ms (${rates.at(-1)!.toFixed(0)} jobs/s)`);
    }
    return {
      figures: [figure(`(b) graphile-worker: no-op jobs per second (${n} per round, concurrency 16)`, 'jobs/s', rates)],
      notes: [
        '(b) graphile-worker on the local PostgreSQL runs a no-op task per job (take, run, complete); compare with benchmark 1 (executions dispatched per second by our queue core on MariaDB, which also resolves a version set and writes PREPARING per execution) in the same run.',
      ],
    };
  } finally {
    await client.end().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

export const peers: Benchmark = {
  id: '10',
  title: "peers: Azkaban's claim pattern (a), graphile-worker (b)",
  async run(ctx): Promise<Omit<BenchResult, 'id' | 'title'>> {
    const a = await azkabanClaimPattern(ctx.quick, ctx.log);
    const b = await graphileWorkerPeer(ctx.quick, ctx.log);
    if (b.skipped) ctx.log(`  (b) SKIPPED: ${b.skipped}`);
    return {
      figures: [...a.figures, ...b.figures],
      notes: [
        ...a.notes,
        ...(b.skipped
          ? [
              `(b) SKIPPED: ${b.skipped} (add graphile-worker ~0.17 as a devDependency to measure it; it needs PostgreSQL on 127.0.0.1:5432, trust auth).`,
            ]
          : b.notes),
      ],
    };
  },
};
