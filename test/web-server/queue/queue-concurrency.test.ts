/**
 * Concurrency on purpose (STYLE §13): several queue processors, each with its own connection pool
 * and claimer id, race for the same queue on MariaDB/MySQL; every execution must be launched
 * exactly once and reach PREPARING. SQLite's single writer has nothing to race, so it is skipped.
 */
import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import { systemClock } from '../../../common/clock.js';
import { openDatabase } from '../../../common/db/knex.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../../../common/db/test-database.js';
import { migrateToLatest } from '../../../migrations/index.js';
import { silentLogger } from '../../../web-server/src/log.js';
import { claimReady } from '../../../web-server/src/queue/claims-store.js';
import { Dispatcher } from '../../../web-server/src/queue/dispatcher.js';
import { mintExecToken, QueueProcessor } from '../../../web-server/src/queue/queue-processor.js';
import { RecordingRuntime } from '../../support/recording-runtime.js';
import { cleanExecutions, insertProject, planOf, statusCounts, submitMany, tokens, until, within } from './queue-fixture.js';

const LEASE = 60_000;

const dialects = testDialects().filter((d) => d === 'mysql');

for (const dialect of dialects) {
  describe(`queue processors racing for one queue [${dialect}]`, function () {
    this.timeout(30_000);
    let tdb: TestDatabase;
    let projectId = 0;
    let runtime: RecordingRuntime;
    let pools: Knex[] = [];
    let processors: QueueProcessor[] = [];

    before(async () => {
      tdb = await createTestDatabase(dialect, migrateToLatest);
      projectId = await insertProject(tdb.db);
    });
    after(async () => {
      await tdb?.dispose();
    });
    beforeEach(async () => {
      await cleanExecutions(tdb.db);
      // One runtime stands for the cluster all replicas launch into: it sees every duplicate.
      runtime = new RecordingRuntime();
      runtime.latencyMs = () => Math.floor(Math.random() * 3);
    });
    afterEach(async () => {
      await Promise.all(processors.map((p) => p.stop()));
      await Promise.all(pools.map((db) => db.destroy()));
      processors = [];
      pools = [];
    });

    function replica(claimer: string): QueueProcessor {
      const db = openDatabase(tdb.url, { poolMax: 5 });
      pools.push(db);
      const dispatcher = new Dispatcher({
        db,
        runtime,
        clock: systemClock,
        log: silentLogger,
        tokens,
        buildLaunchPlan: planOf,
        claimer,
        leaseMs: LEASE,
        retry: { maxAttempts: 3, baseMs: 1, maxMs: 4 },
      });
      const p = new QueueProcessor({
        db,
        dispatcher,
        tokens,
        clock: systemClock,
        log: silentLogger,
        claimer,
        leaseMs: LEASE,
        batchSize: 50,
        launchesPerSecond: 100_000,
        maxConcurrentLaunches: 20,
        pollIntervalMs: 20,
        maxPollIntervalMs: 200,
      });
      processors.push(p);
      return p;
    }

    async function assertAllPreparingOnce(ids: readonly number[]): Promise<void> {
      await until(async () => (await statusCounts(tdb.db)).PREPARING === ids.length, 20_000, `${ids.length} PREPARING`, 25);
      assert.deepEqual(runtime.duplicates(), [], 'no execution is launched twice');
      assert.equal(runtime.launchCalls.size, ids.length);
      assert.deepEqual(
        [...runtime.launchCalls.keys()].sort((a, b) => a - b),
        [...ids].sort((a, b) => a - b),
      );
      assert.deepEqual(await statusCounts(tdb.db), { PREPARING: ids.length });
    }

    it('launches each of 500 executions exactly once with two processors', async () => {
      const ids = await submitMany(tdb.db, projectId, 500);
      const a = replica('replica-a');
      const b = replica('replica-b');
      const started = Date.now();
      await Promise.all([a.start(), b.start()]);
      await within(runtime.whenLaunchCount(500), 20_000, '500 launches');
      await until(() => a.stats().launched + b.stats().launched === 500, 20_000, '500 dispatches to end', 5);
      const tookMs = Date.now() - started;
      await assertAllPreparingOnce(ids);
      const [sa, sb] = [a.stats(), b.stats()];
      assert.equal(sa.claimed + sb.claimed, 500);
      assert.equal(sa.lost + sb.lost + sa.failed + sb.failed + sa.claimErrors + sb.claimErrors, 0);
      assert.ok(sa.launched > 0 && sb.launched > 0, `both processors take part (a: ${sa.launched}, b: ${sb.launched})`);
      console.log(`      500 executions dispatched by two processors in ${tookMs} ms (a: ${sa.launched}, b: ${sb.launched})`);
    });

    it('takes over the expired claims of a crashed processor and launches them exactly once', async () => {
      const ids = await submitMany(tdb.db, projectId, 300);
      // The crashed replica claimed 100 executions, then died: its leases ended a minute ago.
      const crashedAt = Date.now() - 2 * LEASE;
      const crashed = await claimReady(tdb.db, {
        claimer: 'replica-crashed',
        now: crashedAt,
        leaseMs: LEASE,
        limit: 100,
        mintToken: () => mintExecToken(tokens),
      });
      assert.equal(crashed.length, 100);
      const a = replica('replica-a');
      const b = replica('replica-b');
      const started = Date.now();
      await Promise.all([a.start(), b.start()]);
      await within(runtime.whenLaunchCount(300), 20_000, '300 launches');
      await until(() => a.stats().launched + b.stats().launched === 300, 20_000, '300 dispatches to end', 5);
      const tookMs = Date.now() - started;
      await assertAllPreparingOnce(ids);
      assert.equal(a.stats().takenOver + b.stats().takenOver, 100);
      assert.equal(a.stats().claimed + b.stats().claimed, 200);
      const rows = (await tdb
        .db('execution_flows')
        .whereIn(
          'exec_id',
          crashed.map((r) => r.execId),
        )
        .select('exec_id', 'claimed_by', 'attempt', 'token_hash')) as {
        exec_id: number;
        claimed_by: string;
        attempt: number;
        token_hash: string;
      }[];
      const hashOf = new Map(crashed.map((r) => [r.execId, r.tokenHash]));
      for (const r of rows) {
        assert.ok(['replica-a', 'replica-b'].includes(r.claimed_by), `execution ${r.exec_id} claimed by ${r.claimed_by}`);
        assert.equal(Number(r.attempt), 2);
        assert.equal(r.token_hash, hashOf.get(Number(r.exec_id)), 'a takeover keeps the token');
      }
      console.log(`      300 executions (100 taken over from a crashed claimer) dispatched by two processors in ${tookMs} ms`);
    });
  });
}
