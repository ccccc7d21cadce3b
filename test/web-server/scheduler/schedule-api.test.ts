/** The schedule APIs over HTTP on a real server: Azkaban's /schedule AJAX actions and REST /api/v1/schedules. */
import assert from 'node:assert/strict';
import { testDialects } from '../../../common/db/test-database.js';
import { zipOfExample } from '../../support/projects.js';
import {
  ADMIN_PASSWORD,
  ajaxLogin,
  getQuery,
  postForm,
  postMultipart,
  restCall,
  startTestServer,
  type TestServer,
} from '../../support/test-server.js';

const CRON = '0 0 3 ? * *';

for (const dialect of testDialects()) {
  describe(`schedule APIs [${dialect}]`, function () {
    this.timeout(30_000);
    let t: TestServer;
    let sid: string;
    let projectId: number;

    before(async () => {
      t = await startTestServer(dialect);
      sid = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
      await postForm(`${t.url}/manager`, { action: 'create', name: 'nightly', description: 'scheduled', 'session.id': sid });
      const up = await postMultipart(
        `${t.url}/manager`,
        { ajax: 'upload', project: 'nightly', 'session.id': sid },
        { file: { name: 'hello-flow.zip', type: 'application/zip', content: zipOfExample('hello-flow') } },
      );
      projectId = Number(up.json.projectId);
      assert.ok(projectId > 0, up.text);
    });
    after(async () => {
      await t?.stop();
    });

    describe('AJAX /schedule', () => {
      it('schedules a flow with scheduleCronFlow and shows it with fetchSchedule and loadFlow', async () => {
        const r = await postForm(`${t.url}/schedule`, {
          ajax: 'scheduleCronFlow',
          'session.id': sid,
          projectName: 'nightly',
          flow: 'hello',
          cronExpression: CRON,
          failureAction: 'finishPossible',
          'flowOverride[greeting.name]': 'night',
        });
        const scheduleId = r.json.scheduleId as number;
        assert.deepEqual(r.json, { status: 'success', message: 'nightly.hello scheduled.', scheduleId });
        assert.match(r.text, /^\{\n {2}"status" : "success",/);

        const f = await getQuery(`${t.url}/schedule`, {
          ajax: 'fetchSchedule',
          'session.id': sid,
          projectId: String(projectId),
          flowId: 'hello',
        });
        const s = f.json.schedule as Record<string, unknown>;
        assert.equal(s.scheduleId, String(scheduleId));
        assert.equal(s.cronExpression, CRON);
        assert.equal(s.submitUser, 'azkaban');
        assert.equal(s.timezone, 'UTC');
        assert.match(String(s.nextExecTime), /^\d{4}-\d\d-\d\d 03:00:00$/);
        assert.deepEqual((s.executionOptions as Record<string, unknown>).flowParameters, { 'greeting.name': 'night' });
        assert.equal((s.executionOptions as Record<string, unknown>).failureAction, 'finishPossible');

        const l = await getQuery(`${t.url}/schedule`, { ajax: 'loadFlow', 'session.id': sid });
        const items = l.json.items as Record<string, unknown>[];
        assert.deepEqual(
          items.map((i) => [i.scheduleid, i.projectname, i.flowname, i.cron, i.submituser]),
          [[scheduleId, 'nightly', 'hello', CRON, 'azkaban']],
        );
      });

      it('answers fetchSchedule with {} for a flow without a schedule', async () => {
        const f = await getQuery(`${t.url}/schedule`, {
          ajax: 'fetchSchedule',
          'session.id': sid,
          projectId: String(projectId),
          flowId: 'other',
        });
        assert.equal(f.text, '{ }');
      });

      it('answers scheduleCronFlow failures with status error and a message', async () => {
        const bad = await postForm(`${t.url}/schedule`, {
          ajax: 'scheduleCronFlow',
          'session.id': sid,
          projectName: 'nightly',
          flow: 'hello',
          cronExpression: '0 0 3 * * 8',
        });
        assert.deepEqual(bad.json, {
          status: 'error',
          message: `Invalid cron expression "0 0 3 * * 8": put '?' in exactly one of day-of-month and day-of-week (Quartz cannot combine both day fields).`,
        });
        const missing = await postForm(`${t.url}/schedule`, {
          ajax: 'scheduleCronFlow',
          'session.id': sid,
          projectName: 'nope',
          flow: 'hello',
          cronExpression: CRON,
        });
        assert.deepEqual(missing.json, { status: 'error', message: "Project nope doesn't exist." });
        const noSession = await postForm(`${t.url}/schedule`, {
          ajax: 'scheduleCronFlow',
          projectName: 'nightly',
          flow: 'hello',
          cronExpression: CRON,
        });
        assert.deepEqual(noSession.json, { error: 'session' });
      });

      it('removes a schedule with removeSched', async () => {
        const f = await getQuery(`${t.url}/schedule`, {
          ajax: 'fetchSchedule',
          'session.id': sid,
          projectId: String(projectId),
          flowId: 'hello',
        });
        const id = (f.json.schedule as Record<string, string>).scheduleId!;
        const r = await postForm(`${t.url}/schedule`, { action: 'removeSched', 'session.id': sid, scheduleId: id });
        assert.deepEqual(r.json, { status: 'success', message: 'flow hello removed from Schedules.' });
        const again = await postForm(`${t.url}/schedule`, { action: 'removeSched', 'session.id': sid, scheduleId: id });
        assert.deepEqual(again.json, { status: 'error', message: `Schedule with ID ${id} does not exist` });
        const gone = await getQuery(`${t.url}/schedule`, {
          ajax: 'fetchSchedule',
          'session.id': sid,
          projectId: String(projectId),
          flowId: 'hello',
        });
        assert.deepEqual(gone.json, {});
      });
    });

    describe('REST /api/v1/schedules', () => {
      const cookie = () => `azkaban.browser.session.id=${sid}`;

      it('creates, reads, lists, pauses, resumes and deletes a schedule', async () => {
        const c = await restCall(`${t.url}/api/v1/schedules`, 'POST', {
          cookie: cookie(),
          json: {
            project: 'nightly',
            flow: 'hello',
            cronExpression: '0 30 2 ? * MON-FRI',
            timeZone: 'Europe/Paris',
            misfirePolicy: 'SKIP',
          },
        });
        assert.equal(c.status, 201, c.text);
        const id = c.json.id as number;
        assert.equal(c.json.status, 'ACTIVE');
        assert.equal(c.json.timeZone, 'Europe/Paris');
        assert.equal(c.json.misfirePolicy, 'SKIP');
        assert.equal(typeof c.json.nextFireTime, 'number');

        const g = await restCall(`${t.url}/api/v1/schedules/${id}`, 'GET', { cookie: cookie() });
        assert.equal(g.json.cronExpression, '0 30 2 ? * MON-FRI');
        const l = await restCall(`${t.url}/api/v1/schedules?project=nightly`, 'GET', { cookie: cookie() });
        assert.deepEqual(
          (l.json.schedules as Record<string, unknown>[]).map((s) => s.id),
          [id],
        );
        const p = await restCall(`${t.url}/api/v1/schedules/${id}/pause`, 'POST', { cookie: cookie() });
        assert.deepEqual([p.json.status, p.json.nextFireTime], ['PAUSED', null]);
        const r = await restCall(`${t.url}/api/v1/schedules/${id}/resume`, 'POST', { cookie: cookie() });
        assert.equal(r.json.status, 'ACTIVE');
        const fires = await restCall(`${t.url}/api/v1/schedules/${id}/fires`, 'GET', { cookie: cookie() });
        assert.deepEqual(fires.json, { scheduleId: id, fires: [] });
        const d = await restCall(`${t.url}/api/v1/schedules/${id}`, 'DELETE', { cookie: cookie() });
        assert.equal(d.status, 204);
        const after = await restCall(`${t.url}/api/v1/schedules/${id}`, 'GET', { cookie: cookie() });
        assert.deepEqual([after.status, after.json.message], [404, `Schedule with ID ${id} does not exist`]);
      });

      it('answers the next fire times of a cron expression as a dry run', async () => {
        const q = new URLSearchParams({
          cronExpression: '0 0 12 L * ?',
          timeZone: 'UTC',
          count: '3',
          after: String(Date.parse('2024-01-01T00:00:00Z')),
        });
        const r = await restCall(`${t.url}/api/v1/schedules/next-fires?${q.toString()}`, 'GET', { cookie: cookie() });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json.fireTimes, ['2024-01-31T12:00:00.000Z', '2024-02-29T12:00:00.000Z', '2024-03-31T12:00:00.000Z']);
        const bad = await restCall(`${t.url}/api/v1/schedules/next-fires?cronExpression=${encodeURIComponent('0 0 12 L *')}`, 'GET', {
          cookie: cookie(),
        });
        assert.deepEqual(
          [bad.status, bad.json.message],
          [
            400,
            'Invalid cron expression "0 0 12 L *": expected 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]), got 5.',
          ],
        );
      });

      it('refuses a schedule without authentication and with a bad time zone', async () => {
        const anon = await restCall(`${t.url}/api/v1/schedules`, 'POST', {
          json: { project: 'nightly', flow: 'hello', cronExpression: CRON },
        });
        assert.equal(anon.status, 401);
        const tz = await restCall(`${t.url}/api/v1/schedules`, 'POST', {
          cookie: cookie(),
          json: { project: 'nightly', flow: 'hello', cronExpression: CRON, timeZone: 'Mars/Olympus' },
        });
        assert.deepEqual(
          [tz.status, tz.json.message],
          [400, 'Unknown time zone "Mars/Olympus": use an IANA name like Europe/Paris or UTC.'],
        );
      });
    });
  });
}
