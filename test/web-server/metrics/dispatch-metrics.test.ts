import assert from 'node:assert/strict';
import { FakeClock } from '../../../common/clock.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../../../common/db/test-database.js';
import { CaissonError } from '../../../common/errors.js';
import { migrateToLatest } from '../../../migrations/index.js';
import { silentLogger } from '../../../web-server/src/log.js';
import { Metrics } from '../../../web-server/src/metrics/metrics.js';
import { claimReady } from '../../../web-server/src/queue/claims-store.js';
import { Dispatcher } from '../../../web-server/src/queue/dispatcher.js';
import { mintExecToken } from '../../../web-server/src/queue/queue-processor.js';
import { RecordingRuntime } from '../../support/recording-runtime.js';
import { cleanExecutions, insertProject, planOf, submitExecution, tokens } from '../queue/queue-fixture.js';

const LEASE = 60_000;

/** name{labels} value lines of one metric family, sorted (exact-value comparisons). */
async function series(metrics: Metrics, name: string): Promise<string[]> {
  const text = await metrics.render();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .sort();
}

for (const dialect of testDialects()) {
  describe(`dispatch metrics [${dialect}]`, function () {
    this.timeout(30_000);
    let tdb: TestDatabase;
    let projectId = 0;
    let clock: FakeClock;
    let runtime: RecordingRuntime;
    let metrics: Metrics;

    before(async () => {
      tdb = await createTestDatabase(dialect, migrateToLatest);
      projectId = await insertProject(tdb.db);
    });
    after(async () => {
      await tdb?.dispose();
    });
    beforeEach(async () => {
      await cleanExecutions(tdb.db);
      clock = new FakeClock(1_000_000);
      runtime = new RecordingRuntime();
      metrics = new Metrics({ processMetrics: false });
    });

    const dispatcher = (buildLaunchPlan = planOf): Dispatcher =>
      new Dispatcher({
        db: tdb.db,
        runtime,
        clock,
        log: silentLogger,
        tokens,
        buildLaunchPlan,
        claimer: 'replica-a',
        leaseMs: LEASE,
        retry: { maxAttempts: 3, baseMs: 1, maxMs: 2 },
        metrics,
      });

    async function claimAll(n: number, submittedAt: number) {
      for (let i = 0; i < n; i++) await submitExecution(tdb.db, projectId, { submitTime: submittedAt + i });
      return claimReady(tdb.db, {
        claimer: 'replica-a',
        now: clock.now(),
        leaseMs: LEASE,
        limit: n,
        mintToken: () => mintExecToken(tokens),
      });
    }

    it('counts launches, and launch failures by reason', async () => {
      const [ok, flaky, broken, exhausted] = await claimAll(4, clock.now());
      runtime.failTransiently(flaky!.execId, 1);
      runtime.failPermanently(broken!.execId);
      runtime.failTransiently(exhausted!.execId, 5);
      const d = dispatcher();
      assert.equal(await d.dispatch(ok!), 'launched');
      assert.equal(await d.dispatch(flaky!), 'launched');
      assert.equal(await d.dispatch(broken!), 'stopped');
      assert.equal(await d.dispatch(exhausted!), 'stopped');
      assert.deepEqual(await series(metrics, 'caisson_launches_total'), ['caisson_launches_total{result="launched"} 2']);
      assert.deepEqual(await series(metrics, 'caisson_launch_failures_total'), [
        'caisson_launch_failures_total{reason="permanent"} 1',
        'caisson_launch_failures_total{reason="retries_exhausted"} 1',
        'caisson_launch_failures_total{reason="transient"} 3',
      ]);
    });

    it('counts a launch plan that cannot be built', async () => {
      const [row] = await claimAll(1, clock.now());
      const d = dispatcher(() => Promise.reject(new CaissonError('INVALID_PROJECT', 'unknown jobtype "spark"')));
      assert.equal(await d.dispatch(row!), 'stopped');
      assert.deepEqual(await series(metrics, 'caisson_launch_failures_total'), ['caisson_launch_failures_total{reason="launch_plan"} 1']);
      assert.deepEqual(await series(metrics, 'caisson_launches_total'), []);
    });

    it('observes DISPATCHING → PREPARING from the claim to the move, on the injected clock', async () => {
      const [row] = await claimAll(1, clock.now() - 4_000);
      clock.advance(250);
      assert.equal(await dispatcher().dispatch(row!), 'launched');
      const stage = await series(metrics, 'caisson_execution_stage_duration_seconds_sum');
      assert.deepEqual(stage, ['caisson_execution_stage_duration_seconds_sum{stage="dispatching_to_preparing"} 0.25']);
    });
  });
}
