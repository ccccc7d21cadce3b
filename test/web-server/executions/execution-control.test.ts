import assert from 'node:assert/strict';
import { FakeClock } from '../../../common/clock.js';
import { defaultExecutionOptions, type ExecutionOptions } from '../../../common/control-api.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../../../common/db/test-database.js';
import { migrateToLatest } from '../../../migrations/index.js';
import { insertProject } from '../../support/project-rows.js';
import { ContainerClient } from '../../../web-server/src/executions/container-client.js';
import { ExecTokens } from '../../../web-server/src/executions/exec-token.js';
import { ExecutionControl } from '../../../web-server/src/executions/execution-control.js';
import { findExecution, insertExecution, insertJobs, listJobs } from '../../../web-server/src/executions/executions-store.js';
import { silentLogger } from '../../../web-server/src/log.js';
import { RecordingRuntime } from '../../support/recording-runtime.js';

const OPTIONS: ExecutionOptions = defaultExecutionOptions();

for (const dialect of testDialects()) {
  describe(`execution control [${dialect}]`, function () {
    this.timeout(60_000);
    let tdb: TestDatabase;
    let projectId = 0;
    before(async () => {
      tdb = await createTestDatabase(dialect, migrateToLatest);
      projectId = await insertProject(tdb.db);
    });
    after(async () => {
      await tdb?.dispose();
    });

    async function execIn(status: string, fields: Record<string, unknown> = {}): Promise<number> {
      const id = await insertExecution(tdb.db, {
        projectId,
        projectVersion: 1,
        flowId: 'f',
        priority: 5,
        submitUser: 'u',
        submitTime: 1,
        executionSource: 'adhoc',
        scheduleId: null,
        options: OPTIONS,
        flowParams: {},
      });
      await insertJobs(
        tdb.db,
        id,
        [
          { jobId: 'a', jobType: 'command', status: 'RUNNING' },
          { jobId: 'b', jobType: 'command', status: 'READY' },
        ],
        1,
      );
      await tdb
        .db('execution_flows')
        .where({ exec_id: id })
        .update({ status, ...fields });
      return id;
    }

    function control(clock: FakeClock, runtime = new RecordingRuntime(), extra: { preparingTimeoutMs?: number } = {}) {
      return new ExecutionControl({
        ...extra,
        db: tdb.db,
        clock,
        log: silentLogger,
        runtime,
        tokens: new ExecTokens(Buffer.alloc(32, 7)),
        client: new ContainerClient(200),
        killGraceMs: 0,
        heartbeatTimeoutMs: 60_000,
      });
    }

    it('gives a PREPARING execution whose container never reported its own, longer limit (a pending pod)', async () => {
      const clock = new FakeClock(2_000_000);
      const pending = await execIn('PREPARING', { heartbeat_at: null, update_time: 2_000_000 });
      const reported = await execIn('PREPARING', { heartbeat_at: 2_000_000, update_time: 2_000_000 });
      const c = control(clock, new RecordingRuntime(), { preparingTimeoutMs: 600_000 });
      clock.advance(61_000);
      assert.equal(await c.checkHeartbeats(), 1, 'the one that reported once is held to the heartbeat timeout');
      assert.equal((await findExecution(tdb.db, reported))!.status, 'EXECUTION_STOPPED');
      assert.equal((await findExecution(tdb.db, pending))!.status, 'PREPARING');
      clock.advance(540_000);
      assert.equal(await c.checkHeartbeats(), 1);
      const e = (await findExecution(tdb.db, pending))!;
      assert.equal(e.status, 'EXECUTION_STOPPED');
      assert.match(e.failureReason ?? '', /no heartbeat from the flow container for 601 s/);
    });

    it('stops an execution whose container has been silent past the timeout, counting from the server start', async () => {
      const clock = new FakeClock(1_000_000);
      const silent = await execIn('RUNNING', { heartbeat_at: 900_000, update_time: 900_000 });
      const healthy = await execIn('RUNNING', { heartbeat_at: 1_000_000, update_time: 1_000_000 });
      const c = control(clock);
      clock.advance(59_000);
      assert.equal(await c.checkHeartbeats(), 0, 'deadlines count from the server start, so its own outage kills nothing');
      clock.advance(2_000);
      assert.equal(await c.checkHeartbeats(), 2);
      const e = (await findExecution(tdb.db, silent))!;
      assert.equal(e.status, 'EXECUTION_STOPPED');
      assert.equal(e.failureReason, 'no heartbeat from the flow container for 61 s');
      assert.deepEqual(
        (await listJobs(tdb.db, silent)).map((j) => [j.jobId, j.status]),
        [
          ['a', 'KILLED'],
          ['b', 'CANCELLED'],
        ],
      );
      assert.equal((await findExecution(tdb.db, healthy))!.status, 'EXECUTION_STOPPED');
    });

    it('ends a KILLING execution whose container exits as KILLED, and one that exits unasked as EXECUTION_STOPPED', async () => {
      const clock = new FakeClock(1_000_000);
      const c = control(clock);
      const killing = await execIn('KILLING');
      await tdb.db('execution_flows').where({ exec_id: killing }).update({ cancel_requested: true }); // what a cancel records
      await c.onRuntimeEvent({ type: 'exited', execId: killing, at: 1, exitCode: 1, signal: null });
      assert.equal((await findExecution(tdb.db, killing))!.status, 'KILLED');
      const crashed = await execIn('RUNNING');
      await c.onRuntimeEvent({ type: 'exited', execId: crashed, at: 1, exitCode: 137, signal: null });
      const e = (await findExecution(tdb.db, crashed))!;
      assert.deepEqual(
        [e.status, e.failureReason],
        ['EXECUTION_STOPPED', 'the flow container exited with code 137 before reporting a final status'],
      );
      const done = await execIn('SUCCEEDED');
      await c.onRuntimeEvent({ type: 'exited', execId: done, at: 1, exitCode: 0, signal: null });
      assert.equal((await findExecution(tdb.db, done))!.status, 'SUCCEEDED', 'a final status is never left');
    });

    it('cancels a queued execution at once and a running one through KILLING', async () => {
      const clock = new FakeClock(1_000_000);
      const runtime = new RecordingRuntime();
      const c = control(clock, runtime);
      const queued = await execIn('READY');
      assert.equal(await c.cancel((await findExecution(tdb.db, queued))!, 'u'), 'killed');
      assert.equal((await findExecution(tdb.db, queued))!.status, 'KILLED');
      // A running container that never registered a control URL: the runtime stops it and it ends KILLED.
      const running = await execIn('RUNNING', { token_nonce: 'ab'.repeat(32) });
      assert.equal(await c.cancel((await findExecution(tdb.db, running))!, 'u'), 'killing');
      const deadline = Date.now() + 10_000;
      while ((await findExecution(tdb.db, running))!.status !== 'KILLED') {
        if (Date.now() > deadline) assert.fail('the cancel was not completed through the runtime');
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(runtime.stopped, [running]);
    });
  });
}
