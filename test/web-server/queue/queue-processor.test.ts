import assert from 'node:assert/strict';
import { once } from 'node:events';
import { systemClock } from '../../../common/clock.js';
import { openDatabase } from '../../../common/db/knex.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../../../common/db/test-database.js';
import { migrateToLatest } from '../../../migrations/index.js';
import { findExecution } from '../../../web-server/src/executions/executions-store.js';
import { silentLogger } from '../../../web-server/src/log.js';
import { Dispatcher } from '../../../web-server/src/queue/dispatcher.js';
import { QueueProcessor, type QueueProcessorDeps } from '../../../web-server/src/queue/queue-processor.js';
import { RecordingRuntime } from '../../support/recording-runtime.js';
import { cleanExecutions, insertProject, planOf, statusCounts, submitExecution, tokens, until, within } from './queue-fixture.js';

const LEASE = 60_000;

for (const dialect of testDialects()) {
  describe(`queue processor [${dialect}]`, function () {
    this.timeout(30_000);
    let tdb: TestDatabase;
    let projectId = 0;
    let runtime: RecordingRuntime;
    const processors: QueueProcessor[] = [];

    before(async () => {
      tdb = await createTestDatabase(dialect, migrateToLatest);
      projectId = await insertProject(tdb.db);
    });
    after(async () => {
      await tdb?.dispose();
    });
    beforeEach(async () => {
      await cleanExecutions(tdb.db);
      runtime = new RecordingRuntime();
    });
    afterEach(async () => {
      await Promise.all(processors.splice(0).map((p) => p.stop()));
    });

    function processor(overrides: Partial<QueueProcessorDeps> = {}): QueueProcessor {
      const claimer = overrides.claimer ?? 'replica-a';
      const db = overrides.db ?? tdb.db;
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
        batchSize: 10,
        launchesPerSecond: 10_000,
        maxConcurrentLaunches: 5,
        pollIntervalMs: 10_000,
        maxPollIntervalMs: 10_000,
        ...overrides,
      });
      processors.push(p);
      return p;
    }

    it('dispatches a submitted execution promptly after a nudge, long before the next poll', async () => {
      const p = processor();
      const idle = once(p.events, 'idle');
      await p.start();
      await within(idle, 5_000, 'the first (empty) claim');
      const started = Date.now();
      const id = await submitExecution(tdb.db, projectId);
      p.nudge();
      await within(runtime.whenLaunched(id), 3_000, 'the nudged launch (the poll interval is 10 s)');
      await until(() => p.stats().launched === 1, 3_000, 'the dispatch to end');
      assert.ok(Date.now() - started < 3_000);
      assert.equal((await findExecution(tdb.db, id))!.status, 'PREPARING');
      assert.deepEqual(p.stats(), { claimed: 1, takenOver: 0, launched: 1, stopped: 0, lost: 0, cancelled: 0, failed: 0, claimErrors: 0 });
    });

    it('dispatches every READY execution through the limiter, best first, and records each outcome', async () => {
      const ids: number[] = [];
      for (let i = 0; i < 25; i++) ids.push(await submitExecution(tdb.db, projectId, { submitTime: 100 + i, priority: i % 2 }));
      runtime.failPermanently(ids[3]!, 'invalid image');
      const p = processor({ maxConcurrentLaunches: 1 });
      await p.start();
      await until(() => p.stats().launched + p.stats().stopped === 25, 10_000, 'all 25 dispatched');
      assert.deepEqual(await statusCounts(tdb.db), { PREPARING: 24, EXECUTION_STOPPED: 1 });
      const order = runtime.launched.map((plan) => plan.execId);
      const expected = [...ids.filter((_, i) => i % 2 === 1 && i !== 3), ...ids.filter((_, i) => i % 2 === 0)];
      assert.deepEqual(order, expected, 'one launch at a time, in claim order');
      assert.deepEqual(runtime.duplicates(), []);
    });

    it('claims no more than maxActive allows, and resumes when executions finish', async () => {
      for (let i = 0; i < 5; i++) await submitExecution(tdb.db, projectId, { submitTime: 100 + i });
      const p = processor({ maxActive: 2, pollIntervalMs: 20, maxPollIntervalMs: 20 });
      await p.start();
      await within(runtime.whenLaunchCount(2), 5_000, 'two launches');
      await until(() => p.stats().launched === 2, 5_000, 'two PREPARING');
      await within(once(p.events, 'idle'), 5_000, 'a claim capped to nothing');
      assert.deepEqual(await statusCounts(tdb.db), { PREPARING: 2, READY: 3 });
      await tdb.db('execution_flows').where({ status: 'PREPARING' }).update({ status: 'SUCCEEDED' });
      await within(runtime.whenLaunchCount(4), 5_000, 'two more launches');
      await until(() => p.stats().launched === 4, 5_000, 'four PREPARING');
      await within(once(p.events, 'idle'), 5_000, 'a claim capped to nothing');
      assert.deepEqual(await statusCounts(tdb.db), { PREPARING: 2, READY: 1, SUCCEEDED: 2 });
    });

    it('stops promptly and idempotently', async () => {
      const p = processor();
      await p.start();
      await p.start();
      await within(once(p.events, 'idle'), 5_000, 'the first claim');
      const started = Date.now();
      const first = p.stop();
      const second = p.stop();
      assert.equal(first, second);
      await first;
      assert.ok(Date.now() - started < 500, `stop took ${Date.now() - started} ms while the poll interval is 10 s`);
      await p.stop();
    });

    it('lets a dispatch in flight finish within the stop grace', async () => {
      const id = await submitExecution(tdb.db, projectId);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const inLaunch = new Promise<void>((resolve) => (entered = resolve));
      runtime.afterLaunch = async () => {
        entered();
        await gate;
      };
      const p = processor({ stopGraceMs: 5_000 });
      await p.start();
      await within(inLaunch, 5_000, 'the launch');
      const stopping = p.stop();
      release();
      await stopping;
      assert.equal((await findExecution(tdb.db, id))!.status, 'PREPARING');
      assert.equal(p.stats().launched, 1);
    });

    it('aborts a dispatch still backing off when the stop grace runs out, leaving its claim to expire', async () => {
      const id = await submitExecution(tdb.db, projectId);
      runtime.failTransiently(id, 100);
      const db = tdb.db;
      const slowRetry = new Dispatcher({
        db,
        runtime,
        clock: systemClock,
        log: silentLogger,
        tokens,
        buildLaunchPlan: planOf,
        claimer: 'replica-a',
        leaseMs: LEASE,
        retry: { maxAttempts: 10, baseMs: 60_000, maxMs: 60_000 },
      });
      const p = processor({ dispatcher: slowRetry, stopGraceMs: 100 });
      await p.start();
      await until(() => runtime.launchCalls.get(id) === 1, 5_000, 'the first launch attempt');
      const started = Date.now();
      await p.stop();
      assert.ok(Date.now() - started < 1_500, `stop took ${Date.now() - started} ms`);
      assert.equal(p.stats().failed, 1);
      const row = (await findExecution(tdb.db, id))!;
      assert.equal(row.status, 'DISPATCHING');
      assert.equal(row.claimedBy, 'replica-a');
    });

    it('keeps running through database errors, backing off instead of spinning', async () => {
      const broken = openDatabase(tdb.url);
      await broken.destroy();
      const p = processor({ db: broken, pollIntervalMs: 40, maxPollIntervalMs: 80 });
      const started = Date.now();
      await p.start();
      await until(() => p.stats().claimErrors >= 4, 5_000, 'four failed claims');
      // Waits of 40, 80 and 80 ms separate the first four attempts.
      assert.ok(Date.now() - started >= 200, `four failed claims took only ${Date.now() - started} ms`);
      await within(p.stop(), 1_000, 'stop');
    });
  });
}
