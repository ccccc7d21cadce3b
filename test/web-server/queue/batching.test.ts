import assert from 'node:assert/strict';
import { createTestDatabase, testDialects, type TestDatabase } from '../../../common/db/test-database.js';
import { migrateToLatest } from '../../../migrations/index.js';
import { findExecution } from '../../../web-server/src/executions/executions-store.js';
import { claimReady, markPreparingMany, takeOverExpired } from '../../../web-server/src/queue/claims-store.js';
import { Coalescer } from '../../../web-server/src/queue/coalescer.js';
import { LaunchLimiter, LimiterStoppedError } from '../../../web-server/src/queue/launch-limiter.js';
import { mintExecToken } from '../../../web-server/src/queue/queue-processor.js';
import { FakeClock } from '../../../common/clock.js';
import { silentLogger } from '../../../web-server/src/log.js';
import { Dispatcher } from '../../../web-server/src/queue/dispatcher.js';
import { RecordingRuntime } from '../../support/recording-runtime.js';
import { cleanExecutions, insertProject, planOf, submitMany, tokens } from './queue-fixture.js';

const mintToken = () => mintExecToken(tokens);

describe('coalescer (group commit of the dispatch path)', () => {
  it('hands the items submitted in one turn of the event loop to one batch, and answers each in order', async () => {
    const batches: number[][] = [];
    const c = new Coalescer<number, number>(async (items) => {
      batches.push(items);
      return items.map((i) => ({ value: i * 10 }));
    });
    assert.deepEqual(await Promise.all([c.submit(1), c.submit(2), c.submit(3)]), [10, 20, 30]);
    assert.deepEqual(batches, [[1, 2, 3]]);
  });

  it('gathers the items that arrive while a batch is written into the next batch', async () => {
    const batches: number[][] = [];
    let release: () => void = () => undefined;
    const firstWritten = new Promise<void>((r) => (release = r));
    const c = new Coalescer<number, number>(async (items) => {
      batches.push(items);
      if (batches.length === 1) await firstWritten;
      return items.map((i) => ({ value: i }));
    });
    const first = c.submit(1);
    await new Promise((r) => setImmediate(r));
    const later = [c.submit(2), c.submit(3)];
    await new Promise((r) => setImmediate(r));
    release();
    assert.deepEqual(await Promise.all([first, ...later]), [1, 2, 3]);
    assert.deepEqual(batches, [[1], [2, 3]]);
  });

  it('rejects only the item whose outcome is an error, and every item of a batch that throws', async () => {
    const c = new Coalescer<number, number>(async (items) => {
      if (items.includes(99)) throw new Error('database down');
      return items.map((i) => (i === 2 ? { error: new Error('no flow 2') } : { value: i }));
    });
    const [a, b] = await Promise.allSettled([c.submit(1), c.submit(2)]);
    assert.deepEqual(a, { status: 'fulfilled', value: 1 });
    assert.equal(b.status === 'rejected' && (b.reason as Error).message, 'no flow 2');
    const down = await Promise.allSettled([c.submit(98), c.submit(99)]);
    assert.deepEqual(
      down.map((d) => d.status === 'rejected' && (d.reason as Error).message),
      ['database down', 'database down'],
    );
  });

  it('splits a larger backlog into batches of at most maxBatch', async () => {
    const sizes: number[] = [];
    const c = new Coalescer<number, number>(async (items) => {
      sizes.push(items.length);
      return items.map((i) => ({ value: i }));
    }, 4);
    await Promise.all(Array.from({ length: 10 }, (_, i) => c.submit(i)));
    assert.deepEqual(sizes, [4, 4, 2]);
  });
});

describe('launch limiter', () => {
  it('runs at most maxConcurrent jobs at once, in submission order', async () => {
    const limiter = new LaunchLimiter(2, 1_000_000);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const job = (i: number) => async () => {
      started.push(i);
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return i;
    };
    assert.deepEqual(await Promise.all([0, 1, 2, 3, 4].map((i) => limiter.schedule(job(i)))), [0, 1, 2, 3, 4]);
    assert.equal(most, 2);
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
  });

  it('spaces starts by 1000 / perSecond ms', async () => {
    const limiter = new LaunchLimiter(10, 50);
    const at: number[] = [];
    await Promise.all([0, 1, 2, 3].map(() => limiter.schedule(async () => at.push(performance.now()))));
    // 20 ms apart. A start may be let through up to 1 ms early (timers are not finer), and the first
    // job's own start is read a little after the schedule's origin: 2 ms of tolerance in all.
    for (let i = 1; i < at.length; i++)
      assert.ok(at[i]! - at[0]! >= i * 20 - 2, `start ${i} came ${(at[i]! - at[0]!).toFixed(2)} ms after the first`);
  });

  it('starts every due job in the same turn when the rate allows it', async () => {
    const limiter = new LaunchLimiter(100, 1_000_000);
    let started = 0;
    const all = Array.from({ length: 50 }, () =>
      limiter.schedule(async () => {
        started++;
        await new Promise((r) => setImmediate(r));
      }),
    );
    assert.equal(started, 50);
    await Promise.all(all);
  });

  it('passes a job rejection to its caller and keeps going', async () => {
    const limiter = new LaunchLimiter(1, 1_000_000);
    const failed = limiter.schedule(async () => {
      throw new Error('launch failed');
    });
    await assert.rejects(failed, /launch failed/);
    assert.equal(await limiter.schedule(async () => 'next'), 'next');
  });

  it('drops waiting jobs at stop and refuses new ones, leaving running ones alone', async () => {
    const limiter = new LaunchLimiter(1, 1_000_000);
    let finish: () => void = () => undefined;
    const running = limiter.schedule(() => new Promise<string>((r) => (finish = () => r('done'))));
    const waiting = limiter.schedule(async () => 'never');
    assert.equal(limiter.waiting, 1);
    limiter.stop({ dropWaitingJobs: true });
    await assert.rejects(waiting, LimiterStoppedError);
    await assert.rejects(
      limiter.schedule(async () => 'late'),
      LimiterStoppedError,
    );
    finish();
    assert.equal(await running, 'done');
  });
});

for (const dialect of testDialects()) {
  describe(`batched DISPATCHING → PREPARING [${dialect}]`, function () {
    this.timeout(30_000);
    let tdb: TestDatabase;
    let projectId = 0;
    before(async () => {
      tdb = await createTestDatabase(dialect, migrateToLatest);
      projectId = await insertProject(tdb.db);
    });
    after(async () => {
      await tdb?.dispose();
    });
    beforeEach(async () => {
      await cleanExecutions(tdb.db);
    });

    it('moves the claimed executions in one write, each with its runtime info, and leaves a cancelled one KILLED', async () => {
      const ids = await submitMany(tdb.db, projectId, 4);
      // Submitted at 1000–1003; claimed at 1010.
      await claimReady(tdb.db, { claimer: 'a', now: 1010, leaseMs: 60_000, limit: 10, mintToken });
      const [first, second, cancelled, fourth] = ids as [number, number, number, number];
      await tdb.db('execution_flows').where({ exec_id: cancelled }).update({ status: 'KILLED', end_time: 1011 });
      const moved = await markPreparingMany(
        tdb.db,
        'a',
        1012,
        ids.map((execId) => ({ execId, runtimeInfo: { pod: `fc-${execId}` } })),
      );
      assert.deepEqual(
        [...moved].sort((x, y) => x - y),
        [first, second, fourth],
      );
      for (const id of [first, second, fourth]) {
        const row = (await findExecution(tdb.db, id))!;
        assert.equal(row.status, 'PREPARING');
        assert.equal(row.updateTime, 1012);
        assert.deepEqual(row.runtimeInfo, { pod: `fc-${id}` });
      }
      const killed = (await findExecution(tdb.db, cancelled))!;
      assert.equal(killed.status, 'KILLED');
      assert.equal(killed.runtimeInfo, null);
    });

    it('is fenced by the claim: executions taken over by another claimer stay DISPATCHING', async () => {
      const ids = await submitMany(tdb.db, projectId, 2);
      await claimReady(tdb.db, { claimer: 'a', now: 1000, leaseMs: 100, limit: 10, mintToken });
      await takeOverExpired(tdb.db, { claimer: 'b', now: 1200, leaseMs: 100, limit: 10 });
      const stale = await markPreparingMany(
        tdb.db,
        'a',
        1201,
        ids.map((execId) => ({ execId, runtimeInfo: { pod: 'stale' } })),
      );
      assert.equal(stale.size, 0);
      for (const id of ids) assert.equal((await findExecution(tdb.db, id))!.status, 'DISPATCHING');
      const fresh = await markPreparingMany(
        tdb.db,
        'b',
        1202,
        ids.map((execId) => ({ execId, runtimeInfo: { pod: 'fc' } })),
      );
      assert.equal(fresh.size, 2);
      assert.equal(
        (
          await markPreparingMany(
            tdb.db,
            'b',
            1203,
            ids.map((execId) => ({ execId, runtimeInfo: { pod: 'again' } })),
          )
        ).size,
        0,
        'the claim fences DISPATCHING → PREPARING only',
      );
    });

    it('dispatches launches that finish together: each ends PREPARING, and one cancelled during its launch is torn down', async () => {
      const ids = await submitMany(tdb.db, projectId, 6);
      const clock = new FakeClock(1_000_000);
      const rows = await claimReady(tdb.db, { claimer: 'a', now: clock.now(), leaseMs: 60_000, limit: 10, mintToken });
      const cancelled = ids[2]!;
      const runtime = new RecordingRuntime();
      runtime.afterLaunch = async (plan) => {
        if (plan.execId === cancelled) await tdb.db('execution_flows').where({ exec_id: cancelled }).update({ status: 'KILLED' });
      };
      const d = new Dispatcher({
        db: tdb.db,
        runtime,
        clock,
        log: silentLogger,
        tokens,
        buildLaunchPlan: planOf,
        claimer: 'a',
        leaseMs: 60_000,
        retry: { maxAttempts: 2, baseMs: 1, maxMs: 2 },
      });
      const outcomes = await Promise.all(rows.map((r) => d.dispatch(r)));
      assert.deepEqual(
        outcomes,
        rows.map((r) => (r.execId === cancelled ? 'cancelled' : 'launched')),
      );
      for (const id of ids) assert.equal((await findExecution(tdb.db, id))!.status, id === cancelled ? 'KILLED' : 'PREPARING');
      assert.deepEqual(runtime.stopped, [cancelled]);
      assert.deepEqual(runtime.cleaned, [cancelled]);
    });
  });
}
