/**
 * Real time, solo mode: a real server with the process runtime and the system clock; a schedule
 * firing every two seconds produces executions that run to SUCCEEDED and show their schedule.
 */
import assert from 'node:assert/strict';
import { testDialects } from '../../../common/db/test-database.js';
import { zipOfFiles } from '../../support/projects.js';
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
import { waitFor } from '../../support/wait.js';

const QUICK_FLOW = {
  'quick.project': 'azkaban-flow-version: 2.0\n',
  'tick.flow': ['nodes:', '  - name: say', '    type: command', '    config:', '      command: echo tick', ''].join('\n'),
};

for (const dialect of testDialects()) {
  describe(`a schedule in real time, solo mode [${dialect}]`, function () {
    this.timeout(60_000);
    let t: TestServer;

    before(async () => {
      t = await startTestServer(dialect);
    });
    after(async () => {
      await t?.stop();
    });

    it('fires every two seconds and its executions succeed, recording the schedule', async () => {
      const sid = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
      await postForm(`${t.url}/manager`, { action: 'create', name: 'ticker', description: 'real time', 'session.id': sid });
      await postMultipart(
        `${t.url}/manager`,
        { ajax: 'upload', project: 'ticker', 'session.id': sid },
        { file: { name: 'quick.zip', type: 'application/zip', content: zipOfFiles(QUICK_FLOW) } },
      );
      const r = await postForm(`${t.url}/schedule`, {
        ajax: 'scheduleCronFlow',
        'session.id': sid,
        projectName: 'ticker',
        flow: 'tick',
        cronExpression: '*/2 * * ? * *',
        concurrentOption: 'ignore',
      });
      assert.equal(r.json.status, 'success', r.text);
      const scheduleId = r.json.scheduleId as number;
      const succeeded = await waitFor(
        'two scheduled executions to succeed',
        async () => {
          const rows = (await t.tdb.db('execution_flows').where({ schedule_id: scheduleId, status: 'SUCCEEDED' }).orderBy('exec_id')) as {
            exec_id: number;
          }[];
          return rows.length >= 2 ? rows.map((x) => Number(x.exec_id)) : undefined;
        },
        40_000,
      );
      await postForm(`${t.url}/schedule`, { action: 'removeSched', 'session.id': sid, scheduleId: String(scheduleId) });
      const exec = await restCall(`${t.url}/api/v1/executions/${succeeded[0]}`, 'GET', { cookie: `azkaban.browser.session.id=${sid}` });
      assert.deepEqual(
        [exec.json.status, exec.json.source, exec.json.scheduleId, exec.json.submitUser],
        ['SUCCEEDED', 'scheduled', scheduleId, 'azkaban'],
      );
      const ajax = await getQuery(`${t.url}/executor`, { 'session.id': sid, ajax: 'fetchexecflow', execid: String(succeeded[0]) });
      assert.deepEqual([ajax.json.executionSource, ajax.json.scheduleId], ['scheduled', scheduleId]);
    });
  });
}
