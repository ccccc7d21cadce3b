/** Firing schedules with an injected clock: the submit path, misfires after an outage, DST, permissions. */
import assert from 'node:assert/strict';
import { CaissonError } from '../../../common/errors.js';
import { testDialects } from '../../../common/db/test-database.js';
import { listFires } from '../../../web-server/src/scheduler/schedules-store.js';
import {
  MISFIRE_THRESHOLD_MS,
  T0,
  createHelloProject,
  createSchedulerFixture,
  executionsOf,
  iso,
  type SchedulerFixture,
} from './scheduler-fixture.js';

async function rejectsWith(p: Promise<unknown>, code: string, message: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CaissonError, `expected a CaissonError, got ${String(e)}`);
    assert.equal(e.message, message);
    assert.equal(e.code, code);
    return true;
  });
}

for (const dialect of testDialects()) {
  describe(`scheduler firing [${dialect}]`, function () {
    this.timeout(20_000);
    let f: SchedulerFixture;

    before(async () => {
      f = await createSchedulerFixture(dialect);
    });
    after(async () => {
      await f?.tdb.dispose();
    });
    beforeEach(async () => {
      f.clock.set(T0);
      // Each test sees only its own schedules (the database is shared by the describe).
      await f.tdb.db('schedule_fires').del();
      await f.tdb.db('schedules').del();
    });

    it('fires a due schedule once, through the submit path as its owner, recording source and schedule id', async () => {
      await createHelloProject(f, 'daily');
      const s = await f.schedules.schedule(f.alice, { project: 'daily', flow: 'hello', cronExpression: '0 0 3 ? * *' });
      assert.equal(iso(s.nextFireTime), '2024-01-01T03:00:00.000Z');
      f.clock.set(Date.parse('2024-01-01T02:59:59Z'));
      assert.deepEqual(await f.scheduler.fireDue(), []);
      f.clock.set(Date.parse('2024-01-01T03:00:00Z'));
      const [outcome, ...rest] = await f.scheduler.fireDue();
      assert.deepEqual(rest, []);
      assert.equal(outcome?.kind, 'submitted');
      assert.deepEqual(await f.scheduler.fireDue(), []);
      const execs = await executionsOf(f.tdb.db, s.id);
      assert.deepEqual(
        execs.map((e) => [e.status, e.source, e.scheduleId, e.submitUser, e.submitTime]),
        [['READY', 'scheduled', s.id, 'alice', Date.parse('2024-01-01T03:00:00Z')]],
      );
      const after = await f.schedules.require(f.alice, s.id, 'READ');
      assert.equal(iso(after.nextFireTime), '2024-01-02T03:00:00.000Z');
      assert.equal(iso(after.lastFireTime), '2024-01-01T03:00:00.000Z');
      const fires = await listFires(f.tdb.db, s.id);
      assert.deepEqual(
        fires.map((x) => [iso(x.fireTime), x.execId]),
        [['2024-01-01T03:00:00.000Z', execs[0]!.execId]],
      );
    });

    it('replays the schedule’s execution options at each fire', async () => {
      await createHelloProject(f, 'options');
      const s = await f.schedules.schedule(f.alice, {
        project: 'options',
        flow: 'hello',
        cronExpression: '0 0 * ? * *',
        disabled: '["count"]',
        failureAction: 'finishPossible',
        concurrentOption: 'ignore',
        flowOverrides: { 'greeting.name': 'cron' },
      });
      f.clock.set(Date.parse('2024-01-01T01:00:00Z'));
      await f.scheduler.fireDue();
      const [exec] = await executionsOf(f.tdb.db, s.id);
      const row = (await f.tdb.db('execution_flows').where({ exec_id: exec!.execId }).first()) as Record<string, unknown>;
      const options = JSON.parse(String(row.options)) as Record<string, unknown>;
      assert.equal(options.failureAction, 'finishPossible');
      assert.equal(options.concurrentOption, 'ignore');
      assert.deepEqual(options.disabled, ['count']);
      assert.equal((JSON.parse(String(row.flow_params)) as Record<string, string>)['greeting.name'], 'cron');
      const jobs = (await f.tdb.db('execution_jobs').where({ exec_id: exec!.execId }).orderBy('job_id')) as {
        job_id: string;
        status: string;
      }[];
      assert.deepEqual(
        jobs.map((j) => [j.job_id, j.status]),
        [
          ['count', 'DISABLED'],
          ['done', 'READY'],
          ['greet', 'READY'],
        ],
      );
    });

    it('runs a missed fire once after an outage under RUN_ONCE, never a burst', async () => {
      await createHelloProject(f, 'outage-run');
      const s = await f.schedules.schedule(f.alice, {
        project: 'outage-run',
        flow: 'hello',
        cronExpression: '0 * * ? * *',
        concurrentOption: 'ignore',
      });
      // Down for ten and a half minutes: ten fire times were missed.
      f.clock.set(T0 + 10 * 60_000 + 30_000);
      const outcomes = await f.scheduler.fireDue();
      assert.deepEqual(
        outcomes.map((o) => [o.kind, iso(o.fireTime)]),
        [['submitted', '2024-01-01T00:01:00.000Z']],
      );
      assert.equal((await executionsOf(f.tdb.db, s.id)).length, 1);
      const after = await f.schedules.require(f.alice, s.id, 'READ');
      assert.equal(iso(after.nextFireTime), '2024-01-01T00:11:00.000Z');
    });

    it('drops missed fires under SKIP and resumes at the first time after now', async () => {
      await createHelloProject(f, 'outage-skip');
      const s = await f.schedules.schedule(f.alice, {
        project: 'outage-skip',
        flow: 'hello',
        cronExpression: '0 * * ? * *',
        concurrentOption: 'ignore',
        misfirePolicy: 'skip',
      });
      assert.equal(s.misfirePolicy, 'SKIP');
      f.clock.set(T0 + 10 * 60_000 + 30_000);
      assert.deepEqual(
        (await f.scheduler.fireDue()).map((o) => o.kind),
        ['skipped-misfire'],
      );
      assert.deepEqual(await executionsOf(f.tdb.db, s.id), []);
      assert.equal(iso((await f.schedules.require(f.alice, s.id, 'READ')).nextFireTime), '2024-01-01T00:11:00.000Z');
      f.clock.set(Date.parse('2024-01-01T00:11:00Z'));
      assert.deepEqual(
        (await f.scheduler.fireDue()).map((o) => o.kind),
        ['submitted'],
      );
    });

    it('fires every time a replica found late but within the misfire threshold', async () => {
      await createHelloProject(f, 'late');
      const s = await f.schedules.schedule(f.alice, {
        project: 'late',
        flow: 'hello',
        cronExpression: '*/10 * * ? * *',
        concurrentOption: 'ignore',
      });
      f.clock.set(T0 + 35_000);
      assert.ok(35_000 < MISFIRE_THRESHOLD_MS);
      const outcomes = await f.scheduler.fireDue();
      assert.deepEqual(
        outcomes.map((o) => [o.kind, iso(o.fireTime)]),
        [
          ['submitted', '2024-01-01T00:00:10.000Z'],
          ['submitted', '2024-01-01T00:00:20.000Z'],
          ['submitted', '2024-01-01T00:00:30.000Z'],
        ],
      );
      assert.equal((await executionsOf(f.tdb.db, s.id)).length, 3);
    });

    it('records a fire that started nothing while the flow still runs under concurrentOption=skip', async () => {
      await createHelloProject(f, 'busy');
      const s = await f.schedules.schedule(f.alice, { project: 'busy', flow: 'hello', cronExpression: '0 * * ? * *' });
      f.clock.set(T0 + 60_000);
      await f.scheduler.fireDue();
      const [first] = await executionsOf(f.tdb.db, s.id);
      f.clock.set(T0 + 120_000);
      const [outcome] = await f.scheduler.fireDue();
      assert.deepEqual(outcome, {
        kind: 'failed',
        scheduleId: s.id,
        fireTime: T0 + 120_000,
        reason: `Error submitting flow hello. Flow hello is already running with exec id ${first!.execId}. Skipping execution.`,
      });
      assert.deepEqual(
        (await listFires(f.tdb.db, s.id)).map((x) => x.execId),
        [first!.execId, null],
      );
    });

    it('fires with the owner’s permissions at fire time', async () => {
      await createHelloProject(f, 'revoked');
      await f.projects.addPermission(f.alice, 'revoked', { principalType: 'user', principal: 'root', permissions: ['ADMIN'] });
      const s = await f.schedules.schedule(f.alice, { project: 'revoked', flow: 'hello', cronExpression: '0 * * ? * *' });
      await f.projects.changePermission(f.admin, 'revoked', { principalType: 'user', principal: 'alice', permissions: ['READ'] });
      f.clock.set(T0 + 60_000);
      const [outcome] = await f.scheduler.fireDue();
      assert.equal(outcome?.kind, 'failed');
      assert.equal(outcome.kind === 'failed' && outcome.reason, 'Permission denied. Need SCHEDULE access.');
      assert.deepEqual(await executionsOf(f.tdb.db, s.id), []);
      assert.equal(iso((await f.schedules.require(f.admin, s.id, 'READ')).nextFireTime), '2024-01-01T00:02:00.000Z');
    });

    it('refuses admin-only parameters from a non-admin when scheduling', async () => {
      await createHelloProject(f, 'priority');
      await rejectsWith(
        f.schedules.schedule(f.alice, {
          project: 'priority',
          flow: 'hello',
          cronExpression: '0 0 3 ? * *',
          flowOverrides: { flowPriority: '9' },
        }),
        'FORBIDDEN',
        'Only admins may set flowPriority.',
      );
      const s = await f.schedules.schedule(f.admin, {
        project: 'priority',
        flow: 'hello',
        cronExpression: '0 0 3 ? * *',
        flowOverrides: { flowPriority: '9' },
      });
      assert.equal(s.owner, 'root');
    });

    it('refuses to schedule without SCHEDULE, an unknown flow, a bad expression or a bad misfire policy', async () => {
      await createHelloProject(f, 'checks');
      await f.auth.createUser({ username: 'bob', password: 'bob-password', role: 'USER' });
      await f.projects.addPermission(f.alice, 'checks', { principalType: 'user', principal: 'bob', permissions: ['READ', 'EXECUTE'] });
      const bob = { userId: 0, username: 'bob', role: 'USER' as const, groups: [], via: 'session' as const };
      const base = { project: 'checks', flow: 'hello', cronExpression: '0 0 3 ? * *' };
      await rejectsWith(f.schedules.schedule(bob, base), 'FORBIDDEN', 'Permission denied. Need SCHEDULE access.');
      await rejectsWith(
        f.schedules.schedule(f.alice, { ...base, flow: 'nope' }),
        'FLOW_NOT_FOUND',
        'Flow nope not found in project checks.',
      );
      await rejectsWith(
        f.schedules.schedule(f.alice, { ...base, cronExpression: undefined }),
        'INVALID_PARAMETER',
        'Cron expression must exist: pass cronExpression, like "0 0 3 ? * *" (03:00 every day).',
      );
      await rejectsWith(
        f.schedules.schedule(f.alice, { ...base, cronExpression: '0 0 3 * * *' }),
        'INVALID_PARAMETER',
        `Invalid cron expression "0 0 3 * * *": put '?' in exactly one of day-of-month and day-of-week (Quartz cannot combine both day fields).`,
      );
      await rejectsWith(
        f.schedules.schedule(f.alice, { ...base, cronExpression: '0 0 3 1 1 ? 2020' }),
        'INVALID_PARAMETER',
        'Cron expression "0 0 3 1 1 ? 2020" never fires after now.',
      );
      await rejectsWith(
        f.schedules.schedule(f.alice, { ...base, misfirePolicy: 'later' }),
        'INVALID_PARAMETER',
        'misfirePolicy must be RUN_ONCE or SKIP, got "later".',
      );
      assert.deepEqual(await f.schedules.list(f.alice, { project: 'checks' }), []);
    });

    it('replaces the schedule of a flow that is scheduled again, keeping its id', async () => {
      await createHelloProject(f, 'again');
      const a = await f.schedules.schedule(f.alice, { project: 'again', flow: 'hello', cronExpression: '0 0 3 ? * *' });
      const b = await f.schedules.schedule(f.alice, {
        project: 'again',
        flow: 'hello',
        cronExpression: '0 0 4 ? * *',
        timeZone: 'Europe/Paris',
      });
      assert.equal(b.id, a.id);
      assert.equal(b.cronExpression, '0 0 4 ? * *');
      assert.equal(iso(b.nextFireTime), '2024-01-01T03:00:00.000Z');
      assert.equal((await f.schedules.list(f.alice, { project: 'again' })).length, 1);
    });

    it('does not fire a paused schedule, and resumes at the next time after now', async () => {
      await createHelloProject(f, 'paused');
      const s = await f.schedules.schedule(f.alice, {
        project: 'paused',
        flow: 'hello',
        cronExpression: '0 0 * ? * *',
        concurrentOption: 'ignore',
      });
      await f.schedules.setPaused(f.alice, s.id, true);
      f.clock.set(Date.parse('2024-01-01T05:30:00Z'));
      assert.deepEqual(await f.scheduler.fireDue(), []);
      const resumed = await f.schedules.setPaused(f.alice, s.id, false);
      assert.equal(iso(resumed.nextFireTime), '2024-01-01T06:00:00.000Z');
      assert.deepEqual(await f.scheduler.fireDue(), []);
      assert.deepEqual(await executionsOf(f.tdb.db, s.id), []);
    });

    it('removes a schedule (SCHEDULE needed) and the schedules of a deleted project', async () => {
      await createHelloProject(f, 'gone');
      const s = await f.schedules.schedule(f.alice, { project: 'gone', flow: 'hello', cronExpression: '0 0 3 ? * *' });
      await f.schedules.remove(f.alice, s.id);
      await rejectsWith(f.schedules.require(f.alice, s.id, 'READ'), 'NOT_FOUND', `Schedule with ID ${s.id} does not exist`);
      const t = await f.schedules.schedule(f.alice, { project: 'gone', flow: 'hello', cronExpression: '0 0 3 ? * *' });
      await f.projects.deleteProject(f.alice, 'gone');
      assert.equal(await f.tdb.db('schedules').where({ id: t.id }).first(), undefined);
      f.clock.set(Date.parse('2024-01-01T03:00:00Z'));
      assert.deepEqual(
        (await f.scheduler.fireDue()).filter((o) => o.scheduleId === t.id),
        [],
      );
    });

    it('fires a daily schedule exactly once a day across both DST changes of a non-UTC zone', async () => {
      await createHelloProject(f, 'dst');
      const zone = 'America/New_York';
      f.clock.set(Date.parse('2024-03-09T00:00:00Z'));
      const spring = await f.schedules.schedule(f.alice, {
        project: 'dst',
        flow: 'hello',
        cronExpression: '0 30 2 ? * *',
        timeZone: zone,
        concurrentOption: 'ignore',
      });
      // Step the clock a quarter of an hour at a time over three days around the spring change.
      for (let t = Date.parse('2024-03-09T00:00:00Z'); t <= Date.parse('2024-03-12T00:00:00Z'); t += 15 * 60_000) {
        f.clock.set(t);
        await f.scheduler.fireDue();
      }
      assert.deepEqual(
        (await listFires(f.tdb.db, spring.id)).map((x) => iso(x.fireTime)),
        ['2024-03-09T07:30:00.000Z', '2024-03-10T07:00:00.000Z', '2024-03-11T06:30:00.000Z'],
      );
      await f.schedules.remove(f.alice, spring.id);
      f.clock.set(Date.parse('2024-11-02T00:00:00Z'));
      const autumn = await f.schedules.schedule(f.alice, {
        project: 'dst',
        flow: 'hello',
        cronExpression: '0 30 1 ? * *',
        timeZone: zone,
        concurrentOption: 'ignore',
      });
      for (let t = Date.parse('2024-11-02T00:00:00Z'); t <= Date.parse('2024-11-05T00:00:00Z'); t += 15 * 60_000) {
        f.clock.set(t);
        await f.scheduler.fireDue();
      }
      assert.deepEqual(
        (await listFires(f.tdb.db, autumn.id)).map((x) => iso(x.fireTime)),
        ['2024-11-02T05:30:00.000Z', '2024-11-03T05:30:00.000Z', '2024-11-04T06:30:00.000Z'],
      );
      assert.equal((await executionsOf(f.tdb.db, autumn.id)).length, 3);
    });

    it('answers the next fire times of an expression as a dry run', () => {
      const dry = f.schedules.nextFires('0 0 12 ? * 6L', 'Europe/Paris', 3, Date.parse('2024-01-01T00:00:00Z'));
      assert.deepEqual(
        dry.fires.map((t) => new Date(t).toISOString()),
        ['2024-01-26T11:00:00.000Z', '2024-02-23T11:00:00.000Z', '2024-03-29T11:00:00.000Z'],
      );
      assert.throws(
        () => f.schedules.nextFires('0 0 12 ? * 6L', undefined, 0),
        (e: unknown) => e instanceof CaissonError && e.message === 'count must be a whole number from 1 to 100, got 0.',
      );
    });
  });
}
