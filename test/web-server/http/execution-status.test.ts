import assert from 'node:assert/strict';
import { testDialects } from '../../../common/db/test-database.js';
import { insertExecution, insertJobs } from '../../../web-server/src/executions/executions-store.js';
import { zipOfFiles } from '../../support/projects.js';
import {
  ADMIN_PASSWORD,
  ajaxLogin,
  getQuery,
  postForm,
  uploadProject,
  startTestServer,
  type TestServer,
} from '../../support/test-server.js';

const FLOW = `nodes:
  - name: a
    type: noop
  - name: b
    type: noop
    dependsOn: [a]
  - name: c
    type: noop
    dependsOn: [b]
`;

/** Statements of the status path (the server's background loops touch none of these tables this way). */
const STATUS_SQL = /execution_flows e left join projects|execution_jobs|project_flows|project_permissions|from [`"]?projects[`"]?/i;

for (const dialect of testDialects()) {
  describe(`execution status reads (fetchexecflow, REST) [${dialect}]`, function () {
    this.timeout(60_000);
    let t: TestServer;
    let admin: string;
    let alice: string;
    let bob: string;
    let execid: number;
    const statements: string[] = [];
    const record = (q: { sql: string }) => {
      if (STATUS_SQL.test(q.sql)) statements.push(q.sql);
    };

    const fetchexecflow = (session: string, headers: Record<string, string> = {}) =>
      fetch(`${t.url}/executor?ajax=fetchexecflow&execid=${execid}&session.id=${session}`, { headers });
    const rest = (session: string, headers: Record<string, string> = {}) =>
      fetch(`${t.url}/api/v1/executions/${execid}`, { headers: { cookie: `azkaban.browser.session.id=${session}`, ...headers } });

    /** A finished execution of the polled flow, written in one transaction: the queue never sees it READY. */
    const insertFinished = async (status: 'SUCCEEDED' | 'FAILED' | 'KILLED'): Promise<number> => {
      const projectId = Number((await t.tdb.db('projects').where({ name: 'polled' }).first('id')).id);
      return t.tdb.db.transaction(async (trx) => {
        const id = await insertExecution(trx, {
          projectId,
          projectVersion: 1,
          flowId: 'f',
          priority: 5,
          submitUser: 'azkaban',
          submitTime: 1_700_000_000_000,
          executionSource: 'adhoc',
          scheduleId: null,
          options: {} as never,
          flowParams: {},
        });
        await insertJobs(
          trx,
          id,
          ['a', 'b', 'c'].map((jobId) => ({ jobId, jobType: 'noop', status: 'SUCCEEDED' as const })),
          1_700_000_000_500,
        );
        await trx('execution_flows')
          .where({ exec_id: id })
          .update({ status, start_time: 1_700_000_000_100, end_time: 1_700_000_000_900, update_time: 1_700_000_000_900 });
        return id;
      });
    };

    before(async () => {
      t = await startTestServer(dialect);
      for (const name of ['alice', 'bob']) await t.server.auth.createUser({ username: name, password: `${name}-password`, role: 'USER' });
      admin = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
      alice = await ajaxLogin(t.url, 'alice', 'alice-password');
      bob = await ajaxLogin(t.url, 'bob', 'bob-password');
      await uploadProject(t.url, admin, 'polled', zipOfFiles({ 'p.project': 'azkaban-flow-version: 2.0\n', 'f.flow': FLOW }));
      const grant = await postForm(`${t.url}/manager`, {
        'session.id': admin,
        ajax: 'addPermission',
        project: 'polled',
        name: 'alice',
        'permissions[read]': 'true',
      });
      assert.equal(grant.json.error, undefined, grant.text);
      execid = await insertFinished('SUCCEEDED');
      t.server.db.on('query', record);
    });
    after(async () => {
      t?.server.db.off('query', record);
      await t?.stop();
    });

    it('reads the execution with its project in one statement and the jobs in a second, then answers from the rendered body until the execution changes', async () => {
      const cold = await fetchexecflow(admin);
      const coldText = await cold.text();
      const body = JSON.parse(coldText) as { project: string; status: string; nodes: { id: string; status: string }[] };
      assert.equal(body.project, 'polled');
      assert.equal(body.status, 'SUCCEEDED');
      assert.deepEqual(
        body.nodes.map((n) => [n.id, n.status]),
        [
          ['a', 'SUCCEEDED'],
          ['b', 'SUCCEEDED'],
          ['c', 'SUCCEEDED'],
        ],
      );

      statements.length = 0;
      const warm = await fetchexecflow(admin);
      assert.equal(await warm.text(), coldText);
      assert.equal(statements.length, 1, statements.join('\n'));
      assert.match(statements[0]!, /execution_flows e left join projects/);

      // A write to a job moves the execution's update_time (as every writer does): the body is rebuilt.
      await t.tdb.db('execution_jobs').where({ exec_id: execid, job_id: 'c' }).update({ status: 'FAILED' });
      await t.tdb.db('execution_flows').where({ exec_id: execid }).update({ update_time: 1_700_000_000_950 });
      statements.length = 0;
      const changed = (await (await fetchexecflow(admin)).json()) as { nodes: { id: string; status: string }[] };
      assert.equal(statements.length, 2, statements.join('\n'));
      assert.match(statements[1]!, /execution_jobs/);
      assert.equal(changed.nodes.find((n) => n.id === 'c')?.status, 'FAILED');
      const rest1 = (await (await rest(admin)).json()) as { jobs: { jobId: string; status: string }[] };
      assert.equal(rest1.jobs.find((j) => j.jobId === 'c')?.status, 'FAILED');
    });

    it('answers many concurrent readers of several executions, each with its own execution', async () => {
      const ids = [execid, await insertFinished('FAILED'), await insertFinished('KILLED')];
      const expected = new Map([
        [ids[0]!, 'SUCCEEDED'],
        [ids[1]!, 'FAILED'],
        [ids[2]!, 'KILLED'],
      ]);
      const asks = Array.from({ length: 45 }, (_, i) => ids[i % 3]!);
      const answers = await Promise.all(
        asks.map(async (id, i) => {
          const r =
            i % 2 === 0
              ? await fetch(`${t.url}/executor?ajax=fetchexecflow&execid=${id}&session.id=${admin}`)
              : await fetch(`${t.url}/api/v1/executions/${id}`, { headers: { cookie: `azkaban.browser.session.id=${admin}` } });
          return (await r.json()) as { execid?: number; execId?: number; status: string };
        }),
      );
      answers.forEach((a, i) => {
        assert.equal(a.execid ?? a.execId, asks[i], JSON.stringify(a));
        assert.equal(a.status, expected.get(asks[i]!), JSON.stringify(a));
      });
    });

    it('answers a current conditional request with 304 after one statement', async () => {
      for (const get of [fetchexecflow, rest]) {
        const first = await get(admin);
        await first.text();
        const etag = first.headers.get('etag')!;
        statements.length = 0;
        const again = await get(admin, { 'if-none-match': etag });
        assert.equal(again.status, 304);
        assert.equal(statements.length, 1, statements.join('\n'));
      }
    });

    it('answers the REST status with the project name read in the same statement', async () => {
      const r = await rest(alice);
      assert.equal(r.status, 200);
      const body = (await r.json()) as { project: string; jobs: { jobId: string }[] };
      assert.equal(body.project, 'polled');
      assert.deepEqual(
        body.jobs.map((j) => j.jobId),
        ['a', 'b', 'c'],
      );
    });

    it('refuses a caller without READ, even right after a reader was answered', async () => {
      assert.equal(((await (await fetchexecflow(alice)).json()) as { status?: string }).status, 'SUCCEEDED');
      assert.deepEqual(await (await fetchexecflow(bob)).json(), { error: 'Permission denied. Need READ access.' });
      assert.equal((await rest(bob)).status, 403);
    });

    it('refuses a reader at once after its READ is removed in this process', async () => {
      assert.equal((await rest(alice)).status, 200);
      const removed = await postForm(`${t.url}/manager`, {
        'session.id': admin,
        ajax: 'changePermission',
        project: 'polled',
        name: 'alice',
      });
      assert.equal(removed.json.error, undefined, removed.text);
      assert.equal((await rest(alice)).status, 403);
      assert.deepEqual(await (await fetchexecflow(alice)).json(), { error: 'Permission denied. Need READ access.' });
    });

    it('still reads the status of an execution whose project was deleted', async () => {
      const deleted = await getQuery(`${t.url}/manager`, { 'session.id': admin, project: 'polled', delete: 'true' });
      assert.equal(deleted.status, 200);
      const r = await rest(admin);
      assert.equal(r.status, 200);
      assert.equal(((await r.json()) as { project: string }).project, 'polled');
    });
  });
}
