/**
 * Concurrency on purpose (STYLE §13): three web-server replicas — each a scheduler and a queue
 * processor on its own connection pool — share one MariaDB/MySQL database and a schedule that fires
 * every second. A FakeClock steps through 60 fire times and all three schedulers look at once at
 * each; every fire time must yield exactly one execution, dispatched exactly once. SQLite's single
 * writer has nothing to race, so it is skipped.
 */
import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import { systemClock } from '../../../common/clock.js';
import { openDatabase } from '../../../common/db/knex.js';
import { testDialects } from '../../../common/db/test-database.js';
import { silentLogger } from '../../../web-server/src/log.js';
import { Dispatcher } from '../../../web-server/src/queue/dispatcher.js';
import { QueueProcessor } from '../../../web-server/src/queue/queue-processor.js';
import { Scheduler } from '../../../web-server/src/scheduler/scheduler.js';
import { listFires } from '../../../web-server/src/scheduler/schedules-store.js';
import type { FireOutcome } from '../../../web-server/src/scheduler/scheduler.js';
import { RecordingRuntime } from '../../support/recording-runtime.js';
import { planOf, statusCounts, tokens, until } from '../queue/queue-fixture.js';
import {
  MISFIRE_THRESHOLD_MS,
  T0,
  createHelloProject,
  createSchedulerFixture,
  executionsOf,
  projectServiceOn,
  type SchedulerFixture,
} from './scheduler-fixture.js';

const dialects = testDialects().filter((d) => d === 'mysql');

for (const dialect of dialects) {
  describe(`three scheduler replicas on one database [${dialect}]`, function () {
    this.timeout(30_000);
    let f: SchedulerFixture;
    const pools: Knex[] = [];
    const processors: QueueProcessor[] = [];

    before(async () => {
      f = await createSchedulerFixture(dialect);
    });
    after(async () => {
      await Promise.all(processors.map((p) => p.stop()));
      await Promise.all(pools.map((db) => db.destroy()));
      await f?.tdb.dispose();
    });

    function replica(name: string, runtime: RecordingRuntime): Scheduler {
      const db = openDatabase(f.tdb.url, { poolMax: 5 });
      pools.push(db);
      const dispatcher = new Dispatcher({
        db,
        runtime,
        clock: systemClock,
        log: silentLogger,
        tokens,
        buildLaunchPlan: planOf,
        claimer: name,
        leaseMs: 60_000,
        retry: { maxAttempts: 3, baseMs: 1, maxMs: 4 },
      });
      const queue = new QueueProcessor({
        db,
        dispatcher,
        tokens,
        clock: systemClock,
        log: silentLogger,
        claimer: name,
        leaseMs: 60_000,
        batchSize: 50,
        launchesPerSecond: 100_000,
        maxConcurrentLaunches: 20,
        pollIntervalMs: 20,
        maxPollIntervalMs: 200,
      });
      processors.push(queue);
      return new Scheduler({
        db,
        clock: f.clock,
        log: silentLogger,
        projects: projectServiceOn(db, f.clock),
        nudge: () => queue.nudge(),
        pollIntervalMs: 1000,
        misfireThresholdMs: MISFIRE_THRESHOLD_MS,
      });
    }

    it('fires a schedule every second for a minute: exactly one execution per fire time, each dispatched once', async () => {
      await createHelloProject(f, 'every-second');
      const runtime = new RecordingRuntime();
      const replicas = ['replica-a', 'replica-b', 'replica-c'].map((n) => replica(n, runtime));
      await Promise.all(processors.map((p) => p.start()));
      f.clock.set(T0 + 250);
      const s = await f.schedules.schedule(f.alice, {
        project: 'every-second',
        flow: 'hello',
        cronExpression: '* * * ? * *',
        concurrentOption: 'ignore',
      });
      const outcomes: FireOutcome[][] = [[], [], []];
      for (let i = 1; i <= 60; i++) {
        f.clock.set(T0 + i * 1000);
        const passes = await Promise.all(replicas.map((r) => r.fireDue()));
        passes.forEach((p, k) => outcomes[k]!.push(...p));
      }
      const expected = Array.from({ length: 60 }, (_, i) => T0 + (i + 1) * 1000);
      const fires = await listFires(f.tdb.db, s.id);
      assert.deepEqual(
        fires.map((x) => x.fireTime),
        expected,
      );
      const execs = await executionsOf(f.tdb.db, s.id);
      assert.equal(execs.length, 60);
      assert.deepEqual(
        fires.map((x) => x.execId).sort((a, b) => a! - b!),
        execs.map((e) => e.execId),
      );
      const submitted = outcomes.map((list) => list.filter((o) => o.kind === 'submitted').length);
      assert.equal(
        submitted.reduce((a, b) => a + b, 0),
        60,
      );
      assert.deepEqual(
        outcomes.flat().filter((o) => o.kind !== 'submitted' && o.kind !== 'lost'),
        [],
      );
      await until(async () => (await statusCounts(f.tdb.db)).PREPARING === 60, 15_000, '60 PREPARING', 25);
      assert.deepEqual(runtime.duplicates(), [], 'no execution is launched twice');
      assert.deepEqual(
        [...runtime.launchCalls.keys()].sort((a, b) => a - b),
        execs.map((e) => e.execId),
      );
      console.log(`      fires won per replica: ${submitted.join(', ')}`);
    });
  });
}
