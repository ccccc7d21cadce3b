import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import { defaultExecutionOptions, type ContainerEvent, type ExecutionOptions } from '../../../common/control-api.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../../../common/db/test-database.js';
import { migrateToLatest } from '../../../migrations/index.js';
import { insertProject } from '../../support/project-rows.js';
import { applyContainerEvents, SIGTERM_STOP_REASON } from '../../../web-server/src/executions/event-applier.js';
import { findExecution, insertExecution, insertJobs, listJobs } from '../../../web-server/src/executions/executions-store.js';

const OPTIONS: ExecutionOptions = defaultExecutionOptions();

async function newExecution(db: Knex, projectId: number, status: string): Promise<number> {
  const id = await insertExecution(db, {
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
    db,
    id,
    [
      { jobId: 'a', jobType: 'command', status: 'READY' },
      { jobId: 'b', jobType: 'command', status: 'READY' },
    ],
    1,
  );
  await db('execution_flows').where({ exec_id: id }).update({ status });
  return id;
}

const ev = (seq: number, type: ContainerEvent['type'], payload: Record<string, unknown>): ContainerEvent => ({
  seq,
  type,
  time: 1000 + seq,
  payload,
});

for (const dialect of testDialects()) {
  describe(`applying container events [${dialect}]`, function () {
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

    it('applies events in order, stores each once and acknowledges duplicates without effect', async () => {
      const id = await newExecution(tdb.db, projectId, 'PREPARING');
      const batch = [ev(1, 'FLOW_STARTED', {}), ev(2, 'JOB_STARTED', { jobId: 'a', attempt: 0, type: 'command', status: 'RUNNING' })];
      assert.deepEqual(await applyContainerEvents(tdb.db, id, batch, 5000), { ackedSeq: 2, final: false, status: 'RUNNING' });
      assert.deepEqual(await applyContainerEvents(tdb.db, id, batch, 5001), { ackedSeq: 2, final: false, status: 'RUNNING' });
      const stored = await tdb.db('execution_events').where({ exec_id: id, source: 'container' }).count({ n: '*' });
      assert.equal(Number(stored[0]!.n), 2);
      const jobs = await listJobs(tdb.db, id);
      assert.deepEqual(
        jobs.map((j) => [j.jobId, j.status, j.startTime]),
        [
          ['a', 'RUNNING', 1002],
          ['b', 'READY', null],
        ],
      );
      assert.equal((await findExecution(tdb.db, id))!.startTime, 1001);
    });

    it("moves the execution's update_time (the status validator) on every batch, even within one millisecond or a clock step back", async () => {
      const id = await newExecution(tdb.db, projectId, 'RUNNING');
      const updateTime = async () => (await findExecution(tdb.db, id))!.updateTime;
      await applyContainerEvents(tdb.db, id, [ev(1, 'JOB_STARTED', { jobId: 'a', attempt: 0, type: 'command', status: 'RUNNING' })], 5000);
      assert.equal(await updateTime(), 5000);
      await applyContainerEvents(tdb.db, id, [ev(2, 'JOB_FINISHED', { jobId: 'a', attempt: 0, status: 'SUCCEEDED' })], 5000);
      assert.equal(await updateTime(), 5001, 'a second change in the same millisecond still changes the validator');
      await applyContainerEvents(tdb.db, id, [ev(3, 'JOB_STARTED', { jobId: 'b', attempt: 0, type: 'command', status: 'RUNNING' })], 4000);
      assert.equal(await updateTime(), 5002, 'a clock that stepped back never moves it backwards');
      await applyContainerEvents(tdb.db, id, [ev(4, 'FLOW_FINISHED', { status: 'SUCCEEDED' })], 9000);
      assert.equal(await updateTime(), 9000);
    });

    it('stops at a gap and acknowledges only the contiguous part', async () => {
      const id = await newExecution(tdb.db, projectId, 'PREPARING');
      const ack = await applyContainerEvents(
        tdb.db,
        id,
        [ev(1, 'FLOW_STARTED', {}), ev(3, 'JOB_STARTED', { jobId: 'a', attempt: 0, type: 'command', status: 'RUNNING' })],
        5000,
      );
      assert.equal(ack.ackedSeq, 1);
      assert.equal((await listJobs(tdb.db, id)).find((j) => j.jobId === 'a')!.status, 'READY');
    });

    it('never moves a job or the flow backwards', async () => {
      const id = await newExecution(tdb.db, projectId, 'PREPARING');
      await applyContainerEvents(
        tdb.db,
        id,
        [
          ev(1, 'FLOW_STARTED', {}),
          ev(2, 'JOB_FINISHED', { jobId: 'a', attempt: 0, type: 'command', status: 'SUCCEEDED' }),
          ev(3, 'JOB_STARTED', { jobId: 'a', attempt: 0, type: 'command', status: 'RUNNING' }),
          ev(4, 'FLOW_STATUS_CHANGED', { status: 'PREPARING' }),
        ],
        5000,
      );
      assert.equal((await listJobs(tdb.db, id)).find((j) => j.jobId === 'a')!.status, 'SUCCEEDED');
      assert.equal((await findExecution(tdb.db, id))!.status, 'RUNNING');
    });

    it('ends the flow with FLOW_FINISHED, cancels jobs never started, and answers final', async () => {
      const id = await newExecution(tdb.db, projectId, 'RUNNING');
      const ack = await applyContainerEvents(
        tdb.db,
        id,
        [
          ev(1, 'JOB_FINISHED', { jobId: 'a', attempt: 0, type: 'command', status: 'FAILED' }),
          ev(2, 'FLOW_FINISHED', { status: 'FAILED' }),
        ],
        5000,
      );
      assert.deepEqual(ack, { ackedSeq: 2, final: true, status: 'FAILED' });
      const exec = (await findExecution(tdb.db, id))!;
      assert.equal(exec.endTime, 1002);
      assert.deepEqual(
        (await listJobs(tdb.db, id)).map((j) => [j.jobId, j.status]),
        [
          ['a', 'FAILED'],
          ['b', 'CANCELLED'],
        ],
      );
      const late = await applyContainerEvents(tdb.db, id, [ev(3, 'FLOW_FINISHED', { status: 'SUCCEEDED' })], 5001);
      assert.equal(late.status, 'FAILED', 'a final status is never left');
    });

    it('turns a SIGTERM the user did not ask for into EXECUTION_STOPPED, and a cancelled one into KILLED', async () => {
      const evicted = await newExecution(tdb.db, projectId, 'RUNNING');
      await applyContainerEvents(tdb.db, evicted, [ev(1, 'FLOW_FINISHED', { status: 'KILLED', reason: 'SIGTERM' })], 5000);
      const e = (await findExecution(tdb.db, evicted))!;
      assert.deepEqual([e.status, e.failureReason], ['EXECUTION_STOPPED', SIGTERM_STOP_REASON]);

      const cancelled = await newExecution(tdb.db, projectId, 'KILLING');
      await tdb.db('execution_flows').where({ exec_id: cancelled }).update({ cancel_requested: true }); // what a cancel records
      await applyContainerEvents(tdb.db, cancelled, [ev(1, 'FLOW_FINISHED', { status: 'KILLED', reason: 'SIGTERM' })], 5000);
      assert.equal((await findExecution(tdb.db, cancelled))!.status, 'KILLED');

      // The container moved itself to KILLING on that SIGTERM: still nobody asked for it.
      const selfKilling = await newExecution(tdb.db, projectId, 'KILLING');
      await applyContainerEvents(tdb.db, selfKilling, [ev(1, 'FLOW_FINISHED', { status: 'KILLED', reason: 'SIGTERM' })], 5000);
      assert.equal((await findExecution(tdb.db, selfKilling))!.status, 'EXECUTION_STOPPED');
    });
  });
}
