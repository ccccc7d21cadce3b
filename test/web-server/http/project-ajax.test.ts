import assert from 'node:assert/strict';
import { testDialects } from '../../../common/db/test-database.js';
import {
  ADMIN_PASSWORD,
  ajaxLogin,
  getQuery,
  postForm,
  postMultipart,
  startTestServer,
  type TestServer,
} from '../../support/test-server.js';
import { zipOfExample, zipOfFiles } from '../../support/projects.js';
import { buildZip } from '../../support/zip-builder.js';

for (const dialect of testDialects()) {
  describe(`Azkaban AJAX project API [${dialect}]`, function () {
    this.timeout(60_000);
    let t: TestServer;
    let admin: string;
    let alice: string;
    let bob: string;

    before(async () => {
      t = await startTestServer(dialect);
      admin = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
      await t.server.auth.createUser({ username: 'alice', password: 'alice-password', role: 'USER' });
      await t.server.auth.createUser({ username: 'bob', password: 'bob-password', role: 'USER' });
      await t.server.auth.addUserToGroup('bob', 'analysts');
      alice = await ajaxLogin(t.url, 'alice', 'alice-password');
      bob = await ajaxLogin(t.url, 'bob', 'bob-password');
    });
    after(async () => {
      await t?.stop();
    });

    const upload = (session: string, project: string, zip: Buffer, type = 'application/zip') =>
      postMultipart(
        `${t.url}/manager`,
        { 'session.id': session, ajax: 'upload', project },
        { file: { name: `${project}.zip`, type, content: zip } },
      );

    it('logs in with action=login in the body and answers status and session.id in Jackson style', async () => {
      const r = await postForm(`${t.url}/`, { action: 'login', username: 'azkaban', password: ADMIN_PASSWORD });
      assert.equal(r.status, 200);
      assert.match(r.text, /^\{\n {2}"status" : "success",\n {2}"session\.id" : "[A-Za-z0-9_-]+"\n\}$/);
      assert.match(r.headers.get('set-cookie') ?? '', /azkaban\.browser\.session\.id=/);
    });

    it('refuses a login whose password is in the query string', async () => {
      const r = await postForm(`${t.url}/?action=login&username=azkaban&password=${ADMIN_PASSWORD}`, {});
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { error: 'Login error. Must pass username and password in request body' });
    });

    it("answers a failed login with Azkaban's text", async () => {
      const r = await postForm(`${t.url}/`, { action: 'login', username: 'azkaban', password: 'wrong' });
      assert.equal(r.text, '{\n  "error" : "Incorrect Login. Username/Password not found."\n}');
    });

    it('answers {"error" : "session"} to an AJAX call without a valid session', async () => {
      const r = await getQuery(`${t.url}/manager`, { ajax: 'fetchprojectflows', project: 'x', 'session.id': 'not-a-session' });
      assert.equal(r.status, 200);
      assert.equal(r.text, '{\n  "error" : "session"\n}');
    });

    it('shows the login page to a page request without a session, and not to a valid session probe', async () => {
      const page = await getQuery(`${t.url}/manager`, {});
      assert.match(page.text, /<!-- \/\.login -->/);
      const probe = await postForm(`${t.url}/manager`, { 'session.id': admin });
      assert.equal(probe.status, 200);
      assert.doesNotMatch(probe.text, /<!-- \/\.login -->/);
    });

    it('accepts the session from the azkaban.browser.session.id cookie', async () => {
      const r = await getQuery(`${t.url}/index`, { ajax: 'fetchuserprojects' }, { cookie: `azkaban.browser.session.id=${alice}` });
      assert.deepEqual(r.json, { projects: [] });
    });

    it('creates a project, uploads the example, lists its flows and its graph', async () => {
      const c = await postForm(`${t.url}/manager?action=create`, { 'session.id': alice, name: 'hello', description: 'first project' });
      assert.equal(c.json.status, 'success');
      assert.equal(c.json.path, 'manager?project=hello');
      assert.equal(c.json.action, 'redirect');
      assert.equal(c.json.error, undefined);

      const u = await upload(alice, 'hello', zipOfExample('hello-flow'));
      assert.deepEqual(u.json, { projectId: String(c.json.projectId), version: '1' });

      const flows = await getQuery(`${t.url}/manager`, { 'session.id': alice, ajax: 'fetchprojectflows', project: 'hello' });
      assert.equal(
        flows.text,
        `{\n  "project" : "hello",\n  "projectId" : ${String(c.json.projectId)},\n  "flows" : [ {\n    "flowId" : "hello"\n  } ]\n}`,
      );

      const graph = await getQuery(`${t.url}/manager`, { 'session.id': alice, ajax: 'fetchflowgraph', project: 'hello', flow: 'hello' });
      assert.deepEqual(graph.json, {
        project: 'hello',
        projectId: c.json.projectId,
        flow: 'hello',
        nodes: [
          { id: 'count', type: 'command', in: ['greet'] },
          { id: 'done', type: 'noop', in: ['count'] },
          { id: 'greet', type: 'command' },
        ],
      });
      const older = await getQuery(`${t.url}/manager`, { 'session.id': alice, ajax: 'fetchflowjobs', project: 'hello', flow: 'hello' });
      assert.deepEqual(older.json, graph.json);

      const again = await upload(alice, 'hello', zipOfExample('hello-flow'));
      assert.equal(again.json.version, '2');
    });

    it('nests an embedded flow in fetchflowgraph', async () => {
      await postForm(`${t.url}/manager?action=create`, { 'session.id': alice, name: 'embedded', description: 'two flows' });
      const u = await upload(alice, 'embedded', zipOfExample('embedded-flow'));
      assert.equal(u.json.version, '1');
      const flows = await getQuery(`${t.url}/manager`, { 'session.id': alice, ajax: 'fetchprojectflows', project: 'embedded' });
      assert.deepEqual(flows.json.flows, [{ flowId: 'cleanup' }, { flowId: 'pipeline' }]);
      const graph = await getQuery(`${t.url}/manager`, {
        'session.id': alice,
        ajax: 'fetchflowgraph',
        project: 'embedded',
        flow: 'pipeline',
      });
      const transform = (graph.json.nodes as Record<string, unknown>[]).find((n) => n.id === 'transform');
      assert.deepEqual(transform, {
        id: 'transform',
        type: 'flow',
        in: ['extract'],
        flowId: 'pipeline:transform',
        flow: 'pipeline:transform',
        nodes: [
          { id: 'clean', type: 'command' },
          { id: 'enrich', type: 'command', in: ['clean'] },
        ],
      });
    });

    it('answers create errors with status error and a message', async () => {
      const bad = await postForm(`${t.url}/manager?action=create`, { 'session.id': alice, name: '1abc', description: 'x' });
      assert.equal(bad.json.status, 'error');
      assert.match(String(bad.json.message), /^Project names must start with a letter/);
      const dup = await postForm(`${t.url}/manager`, { 'session.id': alice, action: 'create', name: 'hello', description: 'again' });
      assert.deepEqual(dup.json, { status: 'error', message: 'Project hello already exists.' });
      const noDesc = await postForm(`${t.url}/manager?action=create`, { 'session.id': alice, name: 'nodesc' });
      assert.deepEqual(noDesc.json, { status: 'error', message: 'Description cannot be empty.' });
    });

    it("refuses every project call to a user without permission, without the project's data", async () => {
      const calls: Record<string, string>[] = [
        { ajax: 'fetchprojectflows', project: 'hello' },
        { ajax: 'fetchflowgraph', project: 'hello', flow: 'hello' },
        { ajax: 'fetchflowjobs', project: 'hello', flow: 'hello' },
        { ajax: 'getPermissions', project: 'hello' },
        { ajax: 'getGroupPermissions', project: 'hello' },
        { ajax: 'getProjectId', project: 'hello' },
        { ajax: 'fetchProjectLogs', project: 'hello' },
      ];
      for (const call of calls) {
        const r = await getQuery(`${t.url}/manager`, { 'session.id': bob, ...call });
        assert.equal(r.status, 200, call.ajax);
        assert.deepEqual(r.json, { error: 'Permission denied. Need READ access.' }, call.ajax);
      }
      const add = await postForm(`${t.url}/manager`, {
        'session.id': bob,
        ajax: 'addPermission',
        project: 'hello',
        name: 'bob',
        'permissions[admin]': 'true',
      });
      assert.deepEqual(add.json, { error: 'Permission denied. Need ADMIN access.' });
      const del = await getQuery(`${t.url}/manager`, { 'session.id': bob, delete: 'true', project: 'hello' });
      assert.deepEqual(del.json, { error: 'Permission denied. Need ADMIN access.' });
      const up = await upload(bob, 'hello', zipOfExample('hello-flow'));
      assert.deepEqual(up.json, { error: 'Installation Failed. Permission denied. Need WRITE access.' });
      const mine = await getQuery(`${t.url}/index`, { 'session.id': bob, ajax: 'fetchuserprojects' });
      assert.deepEqual(mine.json, { projects: [] });
    });

    it('grants, lists and changes permissions for users and groups', async () => {
      const add = await postForm(`${t.url}/manager`, {
        'session.id': alice,
        ajax: 'addPermission',
        project: 'hello',
        name: 'analysts',
        group: 'true',
        'permissions[read]': 'true',
      });
      assert.equal(add.json.error, undefined, add.text);
      const flows = await getQuery(`${t.url}/manager`, { 'session.id': bob, ajax: 'fetchprojectflows', project: 'hello' });
      assert.deepEqual(flows.json.flows, [{ flowId: 'hello' }]);
      const write = await upload(bob, 'hello', zipOfExample('hello-flow'));
      assert.deepEqual(write.json, { error: 'Installation Failed. Permission denied. Need WRITE access.' });

      const again = await postForm(`${t.url}/manager`, {
        'session.id': alice,
        ajax: 'addPermission',
        project: 'hello',
        name: 'analysts',
        group: 'true',
        'permissions[read]': 'true',
      });
      assert.deepEqual(again.json, { error: 'Group permission already exists.' });
      const ghost = await postForm(`${t.url}/manager`, {
        'session.id': alice,
        ajax: 'addPermission',
        project: 'hello',
        name: 'ghost',
        'permissions[read]': 'true',
      });
      assert.deepEqual(ghost.json, { error: 'User is invalid: no user named "ghost".' });

      await postForm(`${t.url}/manager`, {
        'session.id': alice,
        ajax: 'addPermission',
        project: 'hello',
        name: 'bob',
        'permissions[write]': 'true',
        'permissions[read]': 'true',
      });
      const perms = await getQuery(`${t.url}/manager`, { 'session.id': bob, ajax: 'getPermissions', project: 'hello' });
      assert.deepEqual(perms.json.permissions, [
        { username: 'alice', permission: ['ADMIN'] },
        { username: 'bob', permission: ['READ', 'WRITE'] },
      ]);
      assert.equal(typeof perms.json.projectId, 'number');
      const groups = await getQuery(`${t.url}/manager`, { 'session.id': bob, ajax: 'getGroupPermissions', project: 'hello' });
      assert.deepEqual(groups.json.permissions, [{ username: 'analysts', permission: ['READ'] }]);

      const change = await postForm(`${t.url}/manager`, {
        'session.id': alice,
        ajax: 'changePermission',
        project: 'hello',
        name: 'bob',
        'permissions[read]': 'true',
      });
      assert.equal(change.json.error, undefined);
      const afterChange = await getQuery(`${t.url}/manager`, { 'session.id': bob, ajax: 'getPermissions', project: 'hello' });
      assert.deepEqual(afterChange.json.permissions, [
        { username: 'alice', permission: ['ADMIN'] },
        { username: 'bob', permission: ['READ'] },
      ]);
      const remove = await postForm(`${t.url}/manager`, { 'session.id': alice, ajax: 'changePermission', project: 'hello', name: 'bob' });
      assert.equal(remove.json.error, undefined);
      const missing = await postForm(`${t.url}/manager`, {
        'session.id': alice,
        ajax: 'changePermission',
        project: 'hello',
        name: 'bob',
        'permissions[read]': 'true',
      });
      assert.deepEqual(missing.json, { error: 'Permissions for bob cannot be found.' });
    });

    it('lists projects for their readers, and every project for a global admin', async () => {
      const forAlice = await getQuery(`${t.url}/index`, { 'session.id': alice, ajax: 'fetchuserprojects' });
      assert.deepEqual(
        (forAlice.json.projects as { projectName: string }[]).map((p) => p.projectName),
        ['embedded', 'hello'],
      );
      const forAdmin = await getQuery(`${t.url}/index`, { 'session.id': admin, ajax: 'fetchuserprojects' });
      assert.deepEqual(
        (forAdmin.json.projects as { projectName: string }[]).map((p) => p.projectName),
        ['embedded', 'hello'],
      );
      const first = (forAlice.json.projects as Record<string, unknown>[])[1]!;
      assert.deepEqual(Object.keys(first).sort(), [
        'createdBy',
        'createdTime',
        'description',
        'lastModifiedTime',
        'lastModifiedUser',
        'projectId',
        'projectName',
        'version',
      ]);
    });

    it('records project events for fetchProjectLogs', async () => {
      const r = await getQuery(`${t.url}/manager`, { 'session.id': alice, ajax: 'fetchProjectLogs', project: 'hello' });
      assert.deepEqual(r.json.columns, ['user', 'time', 'type', 'message']);
      const types = (r.json.logData as unknown[][]).map((row) => row[2]);
      assert.ok(types.includes('CREATED') && types.includes('UPLOADED') && types.includes('PERMISSION_ADDED'), JSON.stringify(types));
    });

    it('answers unknown project, unknown flow and unknown command with Azkaban-style errors', async () => {
      const p = await getQuery(`${t.url}/manager`, { 'session.id': alice, ajax: 'fetchprojectflows', project: 'nope' });
      assert.deepEqual(p.json, { error: "Project nope doesn't exist." });
      const f = await getQuery(`${t.url}/manager`, { 'session.id': alice, ajax: 'fetchflowgraph', project: 'hello', flow: 'nope' });
      assert.deepEqual(f.json, { error: 'Flow nope not found in project hello.' });
      const c = await getQuery(`${t.url}/manager`, { 'session.id': alice, ajax: 'frobnicate', project: 'hello' });
      assert.deepEqual(c.json, { error: 'Cannot execute command frobnicate' });
      const later = await getQuery(`${t.url}/executor`, { 'session.id': alice, ajax: 'pauseFlow', execid: '1' });
      assert.deepEqual(later.json, { error: 'pauseFlow is not supported yet' });
      const sched = await getQuery(`${t.url}/schedule`, { 'session.id': alice, ajax: 'slaInfo' });
      assert.deepEqual(sched.json, { error: 'slaInfo is not supported yet' });
    });

    it('refuses an upload with a file type that is not a zip', async () => {
      const r = await upload(alice, 'hello', Buffer.from('hello'), 'text/plain');
      assert.deepEqual(r.json, {
        error: 'File type text/plain unrecognized: send the zip as application/zip or application/x-zip-compressed.',
      });
    });

    describe('upload rejections store nothing and keep the previous version current', () => {
      const rejections: [string, () => Buffer, RegExp][] = [
        ['a file that is not a zip', () => Buffer.from('this is not a zip archive at all'), /not a valid zip archive/],
        [
          'a symbolic link',
          () =>
            buildZip([
              { name: 'p.project', content: 'azkaban-flow-version: 2.0\n' },
              { name: 'f.flow', content: 'nodes:\n  - name: a\n    type: noop\n' },
              { name: 'secrets', content: '/etc/shadow', mode: 0o120777 },
            ]),
          /symbolic link/i,
        ],
        [
          'a zip bomb',
          () =>
            buildZip([
              { name: 'p.project', content: 'azkaban-flow-version: 2.0\n' },
              { name: 'f.flow', content: 'nodes:\n  - name: a\n    type: noop\n' },
              { name: 'zeros.bin', content: Buffer.alloc(64 * 1024 * 1024), method: 'deflate' },
            ]),
          /compress|ratio/i,
        ],
        [
          'an entry escaping the archive root',
          () => zipOfFiles({ 'p.project': 'azkaban-flow-version: 2.0\n', '../evil.flow': 'nodes: []\n' }),
          /escape|\.\./,
        ],
        [
          'a Flow 1.0 job depending on an unknown job',
          () => zipOfFiles({ 'a.job': 'type=command\ncommand=echo hi\ndependencies=zz\n' }),
          /a\.job:3: job "a" depends on "zz", which is not a job of the project/,
        ],
        ['an archive with no .project file', () => zipOfFiles({ 'readme.txt': 'hello' }), /no \.project file/],
        [
          'YAML with duplicate keys',
          () =>
            zipOfFiles({
              'p.project': 'azkaban-flow-version: 2.0\n',
              'f.flow': 'nodes:\n  - name: a\n    type: noop\n    type: command\n',
            }),
          /f\.flow:4:\d+: .*(duplicate|unique)/i,
        ],
        [
          'YAML anchors that explode',
          () =>
            zipOfFiles({
              'p.project': 'azkaban-flow-version: 2.0\n',
              'f.flow':
                'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nnodes:\n  - name: a\n    type: noop\n',
            }),
          /f\.flow/,
        ],
        [
          'a flow with a cycle',
          () =>
            zipOfFiles({
              'p.project': 'azkaban-flow-version: 2.0\n',
              'f.flow': 'nodes:\n  - name: a\n    type: noop\n    dependsOn: [b]\n  - name: b\n    type: noop\n    dependsOn: [a]\n',
            }),
          /a -> b -> a/,
        ],
      ];
      for (const [what, zip, message] of rejections) {
        it(`refuses ${what}`, async () => {
          const before = await t.tdb.db('project_versions').count({ n: '*' });
          const files = await t.tdb.db('project_files').count({ n: '*' });
          const r = await upload(alice, 'hello', zip());
          assert.equal(r.status, 200);
          assert.match(String(r.json.error), /^Installation Failed\. /);
          assert.match(String(r.json.error), message);
          assert.deepEqual(await t.tdb.db('project_versions').count({ n: '*' }), before);
          assert.deepEqual(await t.tdb.db('project_files').count({ n: '*' }), files);
          const flows = await getQuery(`${t.url}/manager`, { 'session.id': alice, ajax: 'fetchprojectflows', project: 'hello' });
          assert.deepEqual(flows.json.flows, [{ flowId: 'hello' }]);
        });
      }
    });

    it("deletes a project with Azkaban's message, frees its name, and forgets it for readers", async () => {
      await postForm(`${t.url}/manager?action=create`, { 'session.id': alice, name: 'doomed', description: 'to delete' });
      const del = await getQuery(`${t.url}/manager`, { 'session.id': alice, delete: 'true', project: 'doomed' });
      assert.match(del.text, /Project 'doomed' was successfully deleted and associated schedules are removed\./);
      const gone = await getQuery(`${t.url}/manager`, { 'session.id': alice, ajax: 'fetchprojectflows', project: 'doomed' });
      assert.deepEqual(gone.json, { error: "Project doomed doesn't exist." });
      const again = await postForm(`${t.url}/manager?action=create`, { 'session.id': alice, name: 'doomed', description: 'reborn' });
      assert.equal(again.json.status, 'success');
    });

    it('logs out: the session stops working', async () => {
      const sid = await ajaxLogin(t.url, 'alice', 'alice-password');
      const out = await getQuery(`${t.url}/`, { 'session.id': sid, logout: 'true' });
      assert.equal(out.json.status, 'success');
      const r = await getQuery(`${t.url}/index`, { 'session.id': sid, ajax: 'fetchuserprojects' });
      assert.deepEqual(r.json, { error: 'session' });
    });
  });
}
