import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import { FakeClock } from '../../../common/clock.js';
import { defaultExecutionOptions, type ContainerEvent, type ExecutionOptions, type FlowRetryPolicy } from '../../../common/control-api.js';
import { isUniqueViolation } from '../../../common/db/dialect.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../../../common/db/test-database.js';
import { migrateToLatest } from '../../../migrations/index.js';
import { insertProject } from '../../support/project-rows.js';
import { ContainerClient } from '../../../web-server/src/executions/container-client.js';
import { applyContainerEvents } from '../../../web-server/src/executions/event-applier.js';
import { ExecTokens } from '../../../web-server/src/executions/exec-token.js';
import { ExecutionControl } from '../../../web-server/src/executions/execution-control.js';
import { findExecution, insertExecution, insertJobs, listJobs } from '../../../web-server/src/executions/executions-store.js';
import { fetchExecFlowView } from '../../../web-server/src/executions/execution-views.js';
import { markStopped } from '../../../web-server/src/queue/claims-store.js';
import { silentLogger } from '../../../web-server/src/log.js';
import { RecordingRuntime } from '../../support/recording-runtime.js';

const ev = (seq: number, type: ContainerEvent['type'], payload: Record<string, unknown>): ContainerEvent => ({
  seq,
  type,
  time: 1000 + seq,
  payload,
});

function optionsWith(flowRetry: FlowRetryPolicy | undefined): ExecutionOptions {
  const o: ExecutionOptions = { ...defaultExecutionOptions(), disabled: ['c'] };
  if (flowRetry) o.flowRetry = flowRetry;
  return o;
}

/** Ids of the executions that retry `parent`. */
async function retriesOf(db: Knex, parent: number): Promise<number[]> {
  const rows = (await db('execution_flows').where({ parent_exec_id: parent }).select('exec_id')) as { exec_id: number }[];
  return rows.map((r) => Number(r.exec_id));
}

for (const dialect of testDialects()) {
  describe(`flow-level retries [${dialect}]`, function () {
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

    async function running(flowRetry: FlowRetryPolicy | undefined, status = 'RUNNING'): Promise<number> {
      const id = await insertExecution(tdb.db, {
        projectId,
        projectVersion: 3,
        flowId: 'f',
        priority: 7,
        submitUser: 'alice',
        submitTime: 1,
        executionSource: 'api',
        scheduleId: null,
        options: optionsWith(flowRetry),
        flowParams: { greeting: 'hi' },
      });
      await insertJobs(
        tdb.db,
        id,
        [
          { jobId: 'a', jobType: 'command', status: 'SUCCEEDED' },
          { jobId: 'b', jobType: 'command', status: 'RUNNING' },
          { jobId: 'c', jobType: 'noop', status: 'DISABLED' },
        ],
        1,
      );
      await tdb.db('execution_flows').where({ exec_id: id }).update({ status, claimed_by: 'me' });
      return id;
    }

    const failBatch = [
      ev(1, 'JOB_FINISHED', { jobId: 'b', attempt: 0, type: 'command', status: 'FAILED' }),
      ev(2, 'FLOW_FINISHED', { status: 'FAILED' }),
    ];

    it('submits exactly one linked retry in READY when a FAILED run ends, even when the end is applied concurrently', async () => {
      const id = await running({ statuses: ['FAILED'], maxRetries: 2, strategy: 'retryAsNew' });
      const acks = await Promise.all([0, 1, 2, 3].map((i) => applyContainerEvents(tdb.db, id, failBatch, 5000 + i)));
      for (const a of acks) assert.equal(a.status, 'FAILED');
      const retries = await retriesOf(tdb.db, id);
      assert.equal(retries.length, 1);
      const retry = (await findExecution(tdb.db, retries[0]!))!;
      assert.equal(retry.status, 'READY');
      assert.deepEqual(
        [retry.rootExecId, retry.parentExecId, retry.retryCount, retry.projectVersion, retry.flowId, retry.submitUser, retry.priority],
        [id, id, 1, 3, 'f', 'alice', 7],
      );
      assert.deepEqual(retry.flowParams, { greeting: 'hi' });
      assert.deepEqual(retry.options, optionsWith({ statuses: ['FAILED'], maxRetries: 2, strategy: 'retryAsNew' }));
      assert.deepEqual(
        (await listJobs(tdb.db, retry.execId)).map((j) => [j.jobId, j.jobType, j.status, j.attempt]),
        [
          ['a', 'command', 'READY', 0],
          ['b', 'command', 'READY', 0],
          ['c', 'noop', 'DISABLED', 0],
        ],
      );
      const events = await tdb.db('execution_events').where({ exec_id: id, source: 'server', type: 'FLOW_RETRY_SUBMITTED' });
      assert.equal(events.length, 1);
      const view = fetchExecFlowView(retry, 'p', { name: 'f', nodes: [], config: {} } as never, []);
      assert.deepEqual([view.rootExecId, view.parentExecId, view.retryCount], [id, id, 1]);
    });

    it('disableSucceededNodes disables the jobs that succeeded, and the chain stops at flow.max.retries', async () => {
      const policy: FlowRetryPolicy = { statuses: ['FAILED'], maxRetries: 2, strategy: 'disableSucceededNodes' };
      const first = await running(policy);
      await applyContainerEvents(tdb.db, first, failBatch, 5000);
      const [second] = await retriesOf(tdb.db, first);
      assert.deepEqual(
        (await listJobs(tdb.db, second!)).map((j) => [j.jobId, j.status]),
        [
          ['a', 'DISABLED'],
          ['b', 'READY'],
          ['c', 'DISABLED'],
        ],
      );
      assert.deepEqual((await findExecution(tdb.db, second!))!.options.disabled, ['c', 'a']);
      // The second run fails too: its retry keeps the root and counts 2.
      await tdb.db('execution_flows').where({ exec_id: second }).update({ status: 'RUNNING' });
      await applyContainerEvents(tdb.db, second!, [ev(1, 'FLOW_FINISHED', { status: 'FAILED' })], 6000);
      const [third] = await retriesOf(tdb.db, second!);
      const t = (await findExecution(tdb.db, third!))!;
      assert.deepEqual([t.rootExecId, t.parentExecId, t.retryCount], [first, second, 2]);
      await tdb.db('execution_flows').where({ exec_id: third }).update({ status: 'RUNNING' });
      await applyContainerEvents(tdb.db, third!, [ev(1, 'FLOW_FINISHED', { status: 'FAILED' })], 7000);
      assert.deepEqual(await retriesOf(tdb.db, third!), [], 'flow.max.retries=2 allows two retries');
    });

    it('retries nothing for a status outside flow.retry.statuses or without a policy', async () => {
      const noPolicy = await running(undefined);
      await applyContainerEvents(tdb.db, noPolicy, failBatch, 5000);
      assert.deepEqual(await retriesOf(tdb.db, noPolicy), []);
      const stoppedOnly = await running({ statuses: ['EXECUTION_STOPPED'], maxRetries: 1, strategy: 'retryAsNew' });
      await applyContainerEvents(tdb.db, stoppedOnly, failBatch, 5000);
      assert.deepEqual(await retriesOf(tdb.db, stoppedOnly), []);
      const succeeded = await running({ statuses: ['FAILED'], maxRetries: 1, strategy: 'retryAsNew' });
      await applyContainerEvents(tdb.db, succeeded, [ev(1, 'FLOW_FINISHED', { status: 'SUCCEEDED' })], 5000);
      assert.deepEqual(await retriesOf(tdb.db, succeeded), []);
    });

    it('retries an EXECUTION_STOPPED run once whether the server or the dispatcher stopped it', async () => {
      const policy: FlowRetryPolicy = { statuses: ['EXECUTION_STOPPED'], maxRetries: 1, strategy: 'retryAsNew' };
      const runtime = new RecordingRuntime();
      const clock = new FakeClock(10_000);
      const control = new ExecutionControl({
        db: tdb.db,
        clock,
        log: silentLogger,
        runtime,
        tokens: new ExecTokens(Buffer.alloc(32, 7)),
        client: new ContainerClient(200),
        killGraceMs: 10,
        heartbeatTimeoutMs: 1000,
      });
      const stopped = await running(policy);
      const moved = await Promise.all([1, 2, 3].map(() => control.endExecution(stopped, 'EXECUTION_STOPPED', 'no heartbeat')));
      assert.equal(moved.filter(Boolean).length, 1);
      assert.equal((await retriesOf(tdb.db, stopped)).length, 1);

      const dispatching = await running(policy, 'DISPATCHING');
      assert.deepEqual(await markStopped(tdb.db, dispatching, 'me', 11_000, 'the launch failed'), { moved: true, retried: true });
      assert.deepEqual(await markStopped(tdb.db, dispatching, 'me', 11_001, 'again'), { moved: false, retried: false });
      assert.equal((await retriesOf(tdb.db, dispatching)).length, 1);

      const killed = await running(policy);
      await control.endExecution(killed, 'KILLED', undefined);
      assert.deepEqual(await retriesOf(tdb.db, killed), [], 'a kill is never retried');
    });

    it('refuses a second retry row for the same parent (uq_execution_flows_parent)', async () => {
      const parent = await running(undefined);
      const retry = {
        projectId,
        projectVersion: 1,
        flowId: 'f',
        priority: 5,
        submitUser: 'u',
        submitTime: 1,
        executionSource: 'adhoc',
        scheduleId: null,
        options: optionsWith(undefined),
        flowParams: {},
        retryOf: { rootExecId: parent, parentExecId: parent, retryCount: 1 },
      };
      await insertExecution(tdb.db, retry);
      await assert.rejects(insertExecution(tdb.db, retry), (e: unknown) => isUniqueViolation(e));
    });
  });
}
