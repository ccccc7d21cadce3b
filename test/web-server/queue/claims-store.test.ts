import assert from 'node:assert/strict';
import { createTestDatabase, testDialects, type TestDatabase } from '../../../common/db/test-database.js';
import { migrateToLatest } from '../../../migrations/index.js';
import { ExecTokens } from '../../../web-server/src/executions/exec-token.js';
import { findExecution, insertJobs } from '../../../web-server/src/executions/executions-store.js';
import { listEvents } from '../../../web-server/src/executions/events-store.js';
import { claimReady, markPreparing, markStopped, renewLease, takeOverExpired } from '../../../web-server/src/queue/claims-store.js';
import { mintExecToken } from '../../../web-server/src/queue/queue-processor.js';
import { cleanExecutions, insertProject, statusCounts, submitExecution, tokens } from './queue-fixture.js';

const LEASE = 60_000;
const mintToken = () => mintExecToken(tokens);

for (const dialect of testDialects()) {
  describe(`dispatch claims and leases [${dialect}]`, function () {
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

    it('claims READY executions by priority, then submit time, then id, with a lease and a fresh token', async () => {
      const low = await submitExecution(tdb.db, projectId, { priority: 1, submitTime: 100 });
      const lateHigh = await submitExecution(tdb.db, projectId, { priority: 9, submitTime: 300 });
      const earlyHigh = await submitExecution(tdb.db, projectId, { priority: 9, submitTime: 200 });
      const midA = await submitExecution(tdb.db, projectId, { priority: 5, submitTime: 200 });
      const midB = await submitExecution(tdb.db, projectId, { priority: 5, submitTime: 200 });
      const killed = await submitExecution(tdb.db, projectId, { priority: 10, submitTime: 1 });
      await tdb.db('execution_flows').where({ exec_id: killed }).update({ status: 'KILLED' });

      const rows = await claimReady(tdb.db, { claimer: 'a', now: 5000, leaseMs: LEASE, limit: 10, mintToken });
      assert.deepEqual(
        rows.map((r) => r.execId),
        [earlyHigh, lateHigh, midA, midB, low],
      );
      for (const r of rows) {
        assert.equal(r.status, 'DISPATCHING');
        assert.equal(r.claimedBy, 'a');
        assert.equal(r.leaseUntil, 5000 + LEASE);
        assert.equal(r.attempt, 1);
        assert.equal(r.updateTime, 5000);
        assert.ok(r.tokenNonce && /^[0-9a-f]{64}$/.test(r.tokenNonce));
        assert.equal(r.tokenHash, ExecTokens.hash(tokens.tokenFor(r.tokenNonce)));
      }
      assert.equal(new Set(rows.map((r) => r.tokenNonce)).size, rows.length, 'each claim gets its own token');
      assert.equal((await findExecution(tdb.db, killed))!.status, 'KILLED');
      assert.deepEqual(await claimReady(tdb.db, { claimer: 'b', now: 5001, leaseMs: LEASE, limit: 10, mintToken }), []);
    });

    it('takes at most the batch size per claim and leaves the rest READY', async () => {
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) ids.push(await submitExecution(tdb.db, projectId, { submitTime: 100 + i }));
      const first = await claimReady(tdb.db, { claimer: 'a', now: 5000, leaseMs: LEASE, limit: 2, mintToken });
      const second = await claimReady(tdb.db, { claimer: 'b', now: 5001, leaseMs: LEASE, limit: 2, mintToken });
      assert.deepEqual(
        first.map((r) => r.execId),
        ids.slice(0, 2),
      );
      assert.deepEqual(
        second.map((r) => r.execId),
        ids.slice(2, 4),
      );
      assert.deepEqual(await statusCounts(tdb.db), { DISPATCHING: 4, READY: 1 });
    });

    it('takes an expired claim over in place: still DISPATCHING, new claimer, attempt + 1, same token', async () => {
      const id = await submitExecution(tdb.db, projectId);
      const [claimed] = await claimReady(tdb.db, { claimer: 'a', now: 1000, leaseMs: 100, limit: 1, mintToken });
      assert.equal(claimed!.execId, id);

      assert.deepEqual(
        await takeOverExpired(tdb.db, { claimer: 'b', now: 1100, leaseMs: 100, limit: 10 }),
        [],
        'a lease is valid up to its end',
      );
      const [taken] = await takeOverExpired(tdb.db, { claimer: 'b', now: 1101, leaseMs: 100, limit: 10 });
      assert.ok(taken);
      assert.equal(taken.execId, id);
      assert.equal(taken.status, 'DISPATCHING');
      assert.equal(taken.claimedBy, 'b');
      assert.equal(taken.attempt, 2);
      assert.equal(taken.leaseUntil, 1201);
      assert.equal(taken.tokenNonce, claimed!.tokenNonce);
      assert.equal(taken.tokenHash, claimed!.tokenHash);
      assert.deepEqual(
        await claimReady(tdb.db, { claimer: 'c', now: 1102, leaseMs: 100, limit: 10, mintToken }),
        [],
        'never back to READY',
      );
      assert.deepEqual(await takeOverExpired(tdb.db, { claimer: 'c', now: 1150, leaseMs: 100, limit: 10 }), [], 'the new lease holds');

      const [again] = await takeOverExpired(tdb.db, { claimer: 'c', now: 1300, leaseMs: 100, limit: 10 });
      assert.equal(again!.attempt, 3);
      assert.equal(again!.claimedBy, 'c');
    });

    it('fences later writes by the claim: a stale claimer can neither renew, prepare nor stop', async () => {
      const id = await submitExecution(tdb.db, projectId);
      await claimReady(tdb.db, { claimer: 'a', now: 1000, leaseMs: 100, limit: 1, mintToken });
      assert.equal(await renewLease(tdb.db, id, 'a', 1050, 100), true);
      assert.equal((await findExecution(tdb.db, id))!.leaseUntil, 1150);
      await takeOverExpired(tdb.db, { claimer: 'b', now: 1200, leaseMs: 100, limit: 10 });

      assert.equal(await renewLease(tdb.db, id, 'a', 1201, 100), false);
      assert.equal(await markPreparing(tdb.db, id, 'a', 1201, { pod: 'stale' }), false);
      assert.deepEqual(await markStopped(tdb.db, id, 'a', 1201, 'stale'), { moved: false, retried: false });
      assert.equal((await findExecution(tdb.db, id))!.status, 'DISPATCHING');

      assert.equal(await markPreparing(tdb.db, id, 'b', 1202, { pod: 'fc-caisson-1' }), true);
      const row = (await findExecution(tdb.db, id))!;
      assert.equal(row.status, 'PREPARING');
      assert.deepEqual(row.runtimeInfo, { pod: 'fc-caisson-1' });
      assert.equal(await markPreparing(tdb.db, id, 'b', 1203, { pod: 'again' }), false, 'the claim fences DISPATCHING → PREPARING only');
      assert.equal(await renewLease(tdb.db, id, 'b', 1203, 100), false);
    });

    it('stops a claimed execution with its reason, finalizes its jobs and records a server event', async () => {
      const id = await submitExecution(tdb.db, projectId);
      await insertJobs(tdb.db, id, [{ jobId: 'a', jobType: 'command', status: 'READY' }], 1000);
      await claimReady(tdb.db, { claimer: 'a', now: 1000, leaseMs: LEASE, limit: 1, mintToken });
      assert.deepEqual(await markStopped(tdb.db, id, 'a', 2000, 'the launch failed: bad image'), { moved: true, retried: false });
      const row = (await findExecution(tdb.db, id))!;
      assert.equal(row.status, 'EXECUTION_STOPPED');
      assert.equal(row.failureReason, 'the launch failed: bad image');
      assert.equal(row.endTime, 2000);
      const jobs = await tdb.db('execution_jobs').where({ exec_id: id }).select('status');
      assert.deepEqual(jobs, [{ status: 'CANCELLED' }]);
      const events = await listEvents(tdb.db, id);
      assert.deepEqual(
        events.map((e) => [e.source, e.type]),
        [['server', 'EXECUTION_STOPPED']],
      );
      assert.deepEqual(await markStopped(tdb.db, id, 'a', 2001, 'again'), { moved: false, retried: false }, 'a final status is never left');
    });

    it('caps a claim at maxActive minus the executions already active', async () => {
      const running = await submitExecution(tdb.db, projectId, { submitTime: 1 });
      await tdb.db('execution_flows').where({ exec_id: running }).update({ status: 'RUNNING' });
      const finished = await submitExecution(tdb.db, projectId, { submitTime: 2 });
      await tdb.db('execution_flows').where({ exec_id: finished }).update({ status: 'SUCCEEDED' });
      for (let i = 0; i < 5; i++) await submitExecution(tdb.db, projectId, { submitTime: 10 + i });

      const first = await claimReady(tdb.db, { claimer: 'a', now: 1000, leaseMs: LEASE, limit: 10, maxActive: 3, mintToken });
      assert.equal(first.length, 2);
      assert.deepEqual(await claimReady(tdb.db, { claimer: 'a', now: 1001, leaseMs: LEASE, limit: 10, maxActive: 3, mintToken }), []);
      await tdb.db('execution_flows').where({ exec_id: running }).update({ status: 'SUCCEEDED' });
      assert.equal((await claimReady(tdb.db, { claimer: 'a', now: 1002, leaseMs: LEASE, limit: 10, maxActive: 3, mintToken })).length, 1);
      assert.deepEqual(await statusCounts(tdb.db), { DISPATCHING: 3, READY: 2, SUCCEEDED: 2 });
    });
  });
}
