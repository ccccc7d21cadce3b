import assert from 'node:assert/strict';
import { FakeClock } from '../../../common/clock.js';
import { CONTAINER_ENV } from '../../../common/control-api.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../../../common/db/test-database.js';
import { CaissonError } from '../../../common/errors.js';
import { migrateToLatest } from '../../../migrations/index.js';
import { ExecTokens } from '../../../web-server/src/executions/exec-token.js';
import { findExecution, type ExecutionRow } from '../../../web-server/src/executions/executions-store.js';
import { silentLogger } from '../../../web-server/src/log.js';
import { claimReady, takeOverExpired } from '../../../web-server/src/queue/claims-store.js';
import { Dispatcher, launchBackoffMs, MAX_DISPATCH_ATTEMPTS, type DispatcherDeps } from '../../../web-server/src/queue/dispatcher.js';
import { mintExecToken } from '../../../web-server/src/queue/queue-processor.js';
import { RecordingRuntime } from '../../support/recording-runtime.js';
import { cleanExecutions, insertProject, planOf, submitExecution, tokens } from './queue-fixture.js';

const LEASE = 60_000;

describe('launch back-off', () => {
  it('doubles from the base up to the maximum, with half of it jittered', () => {
    const retry = { maxAttempts: 10, baseMs: 100, maxMs: 1000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((a) => launchBackoffMs(a, retry, () => 0)),
      [50, 100, 200, 400, 500, 500],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((a) => launchBackoffMs(a, retry, () => 0.999999)),
      [100, 200, 400, 800, 1000, 1000],
    );
  });
});

for (const dialect of testDialects()) {
  describe(`dispatcher [${dialect}]`, function () {
    this.timeout(30_000);
    let tdb: TestDatabase;
    let projectId = 0;
    let clock: FakeClock;
    let runtime: RecordingRuntime;

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
    });

    function dispatcher(overrides: Partial<DispatcherDeps> = {}): Dispatcher {
      return new Dispatcher({
        db: tdb.db,
        runtime,
        clock,
        log: silentLogger,
        tokens,
        buildLaunchPlan: planOf,
        claimer: 'replica-a',
        leaseMs: LEASE,
        retry: { maxAttempts: 4, baseMs: 1, maxMs: 4 },
        ...overrides,
      });
    }

    async function claimOne(claimer = 'replica-a'): Promise<ExecutionRow> {
      const id = await submitExecution(tdb.db, projectId);
      const [row] = await claimReady(tdb.db, {
        claimer,
        now: clock.now(),
        leaseMs: LEASE,
        limit: 1,
        mintToken: () => mintExecToken(tokens),
      });
      assert.equal(row?.execId, id);
      return row;
    }

    it('launches a claimed execution with its token and moves it to PREPARING with the runtime info', async () => {
      const row = await claimOne();
      assert.equal(await dispatcher().dispatch(row), 'launched');
      const plan = runtime.launched[0]!;
      assert.equal(plan.env[CONTAINER_ENV.execId], String(row.execId));
      assert.ok(ExecTokens.matches(plan.env[CONTAINER_ENV.token]!, row.tokenHash));
      const after = (await findExecution(tdb.db, row.execId))!;
      assert.equal(after.status, 'PREPARING');
      assert.deepEqual(after.runtimeInfo, { runtime: 'recording', container: `rec-${row.execId}` });
      assert.equal(after.claimedBy, 'replica-a');
    });

    it('retries transient launch failures in place, renewing the lease, then moves to PREPARING', async () => {
      const row = await claimOne();
      runtime.failTransiently(row.execId, 2);
      clock.advance(10_000);
      assert.equal(await dispatcher().dispatch(row), 'launched');
      assert.equal(runtime.launchCalls.get(row.execId), 3);
      const after = (await findExecution(tdb.db, row.execId))!;
      assert.equal(after.status, 'PREPARING');
      assert.equal(after.attempt, 1, 'a retry keeps the claim: same execution, same attempt');
      assert.equal(after.leaseUntil, clock.now() + LEASE, 'the lease was renewed for the retries');
      assert.equal(after.tokenHash, row.tokenHash);
      const tokensSeen = new Set(runtime.launched.map((p) => p.env[CONTAINER_ENV.token]));
      assert.equal(tokensSeen.size, 1);
    });

    it('ends EXECUTION_STOPPED naming the last error once the launch attempts are used up', async () => {
      const row = await claimOne();
      runtime.failTransiently(row.execId, 10, 'the API server answered 503 Service Unavailable');
      assert.equal(await dispatcher().dispatch(row), 'stopped');
      assert.equal(runtime.launchCalls.get(row.execId), 4);
      const after = (await findExecution(tdb.db, row.execId))!;
      assert.equal(after.status, 'EXECUTION_STOPPED');
      assert.equal(after.failureReason, 'the launch failed 4 times; last error: the API server answered 503 Service Unavailable');
      assert.deepEqual(runtime.cleaned, [row.execId]);
    });

    it('ends EXECUTION_STOPPED at once on a permanent launch failure', async () => {
      const row = await claimOne();
      runtime.failPermanently(row.execId, 'invalid image reference "spark:1..2"');
      assert.equal(await dispatcher().dispatch(row), 'stopped');
      assert.equal(runtime.launchCalls.get(row.execId), 1);
      const after = (await findExecution(tdb.db, row.execId))!;
      assert.equal(after.status, 'EXECUTION_STOPPED');
      assert.equal(after.failureReason, 'the launch failed: invalid image reference "spark:1..2"');
    });

    it('ends EXECUTION_STOPPED without launching when the launch plan cannot be built', async () => {
      const row = await claimOne();
      const failing = dispatcher({
        buildLaunchPlan: () =>
          Promise.reject(new CaissonError('INVALID_PROJECT', 'unknown jobtype "spark": no jobtype image is available for it')),
      });
      assert.equal(await failing.dispatch(row), 'stopped');
      assert.equal(runtime.launchCalls.size, 0);
      assert.equal(
        (await findExecution(tdb.db, row.execId))!.failureReason,
        'unknown jobtype "spark": no jobtype image is available for it',
      );
    });

    it('gives up on an execution whose dispatch was taken over too many times', async () => {
      const row = await claimOne();
      await tdb
        .db('execution_flows')
        .where({ exec_id: row.execId })
        .update({ attempt: MAX_DISPATCH_ATTEMPTS + 1 });
      const again = (await findExecution(tdb.db, row.execId))!;
      assert.equal(await dispatcher().dispatch(again), 'stopped');
      assert.equal(runtime.launchCalls.size, 0);
      assert.equal(
        (await findExecution(tdb.db, row.execId))!.failureReason,
        `dispatch was attempted ${MAX_DISPATCH_ATTEMPTS} times without reaching the runtime; giving up`,
      );
    });

    it('tears down what it launched when a cancel wins the race with the launch', async () => {
      const row = await claimOne();
      runtime.afterLaunch = async (plan) => {
        // The user cancels while the container is being created: READY/DISPATCHING → KILLED at once.
        await tdb
          .db('execution_flows')
          .where({ exec_id: plan.execId })
          .update({ status: 'KILLED', cancel_requested: true, end_time: clock.now() });
      };
      assert.equal(await dispatcher().dispatch(row), 'cancelled');
      assert.deepEqual(runtime.stopped, [row.execId]);
      assert.deepEqual(runtime.cleaned, [row.execId]);
      assert.equal(runtime.hasContainer(row.execId), false);
      assert.equal((await findExecution(tdb.db, row.execId))!.status, 'KILLED');
    });

    it('leaves the container to the replica that took the claim over while it launched', async () => {
      const row = await claimOne();
      runtime.afterLaunch = async () => {
        await takeOverExpired(tdb.db, { claimer: 'replica-b', now: clock.now() + LEASE + 1, leaseMs: LEASE, limit: 10 });
      };
      assert.equal(await dispatcher().dispatch(row), 'lost');
      assert.deepEqual(runtime.stopped, []);
      assert.deepEqual(runtime.cleaned, []);
      const after = (await findExecution(tdb.db, row.execId))!;
      assert.equal(after.status, 'DISPATCHING');
      assert.equal(after.claimedBy, 'replica-b');
    });

    it('does not launch when its claim was taken over while it waited', async () => {
      const row = await claimOne();
      clock.advance(LEASE + 1);
      await takeOverExpired(tdb.db, { claimer: 'replica-b', now: clock.now(), leaseMs: LEASE, limit: 10 });
      assert.equal(await dispatcher().dispatch(row), 'lost');
      assert.equal(runtime.launchCalls.size, 0);
    });

    it('stops waiting between retries at once when aborted, leaving the claim to expire', async () => {
      const row = await claimOne();
      runtime.failTransiently(row.execId, 10);
      const slow = dispatcher({ retry: { maxAttempts: 10, baseMs: 60_000, maxMs: 60_000 } });
      const controller = new AbortController();
      const launchedOnce = new Promise<void>((resolve) => {
        const original = runtime.launch.bind(runtime);
        runtime.launch = (plan) => {
          resolve();
          return original(plan);
        };
      });
      const dispatching = slow.dispatch(row, controller.signal);
      await launchedOnce;
      const started = Date.now();
      controller.abort();
      await assert.rejects(dispatching, { name: 'AbortError' });
      assert.ok(Date.now() - started < 1000);
      assert.equal((await findExecution(tdb.db, row.execId))!.status, 'DISPATCHING');
    });
  });
}
