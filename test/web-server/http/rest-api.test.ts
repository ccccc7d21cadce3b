import assert from 'node:assert/strict';
import { testDialects } from '../../../common/db/test-database.js';
import { ADMIN_PASSWORD, postMultipart, restCall, startTestServer, type HttpAnswer, type TestServer } from '../../support/test-server.js';
import { zipOfExample, zipOfFiles } from '../../support/projects.js';

const COOKIE = 'azkaban.browser.session.id';
const LOGIN_FAILED = { code: 'LOGIN_FAILED', message: 'Incorrect Login. Username/Password not found.' };
const UNAUTHENTICATED = {
  code: 'UNAUTHENTICATED',
  message: 'Authentication required: log in (POST /api/v1/login) or send Authorization: Bearer <token>.',
};

interface Login {
  sessionId: string;
  cookie: string;
}

async function restLogin(api: string, username: string, password: string): Promise<Login> {
  const r = await restCall(`${api}/login`, 'POST', { json: { username, password } });
  if (r.status !== 200 || typeof r.json.sessionId !== 'string') throw new Error(`login of ${username} failed: ${r.status} ${r.text}`);
  return { sessionId: r.json.sessionId, cookie: `${COOKIE}=${r.json.sessionId}` };
}

async function countRows(t: TestServer, table: string): Promise<number> {
  const [row] = (await t.tdb.db(table).count({ n: '*' })) as { n: number | string }[];
  return Number(row!.n);
}

/** A flow file with a duplicate key on line 4, column 5. */
const DUPLICATE_KEY_ZIP = () =>
  zipOfFiles({
    'p.project': 'azkaban-flow-version: 2.0\n',
    'f.flow': 'nodes:\n  - name: a\n    type: noop\n    type: command\n',
  });

for (const dialect of testDialects()) {
  describe(`REST API /api/v1 [${dialect}]`, function () {
    this.timeout(60_000);
    let t: TestServer;
    let api: string;
    let admin: Login;
    let alice: Login;
    let bob: Login;
    let carol: Login;
    let erin: Login;

    before(async () => {
      t = await startTestServer(dialect);
      api = `${t.url}/api/v1`;
      for (const name of ['alice', 'bob', 'carol', 'erin']) {
        await t.server.auth.createUser({ username: name, password: `${name}-password`, role: 'USER' });
      }
      await t.server.auth.addUserToGroup('carol', 'analysts');
      admin = await restLogin(api, 'azkaban', ADMIN_PASSWORD);
      alice = await restLogin(api, 'alice', 'alice-password');
      bob = await restLogin(api, 'bob', 'bob-password');
      carol = await restLogin(api, 'carol', 'carol-password');
      erin = await restLogin(api, 'erin', 'erin-password');
    });
    after(async () => {
      await t?.stop();
    });

    describe('sessions', () => {
      it('logs in with a JSON body, answering the session id and the user and setting the session cookie', async () => {
        const r = await restCall(`${api}/login`, 'POST', { json: { username: 'carol', password: 'carol-password' } });
        assert.equal(r.status, 200);
        assert.match(String(r.json.sessionId), /^[A-Za-z0-9_-]{43}$/);
        assert.deepEqual(r.json.user, { username: 'carol', role: 'USER', groups: ['analysts'] });
        const cookie = r.headers.get('set-cookie') ?? '';
        assert.ok(cookie.startsWith(`${COOKIE}=${String(r.json.sessionId)};`), cookie);
        assert.match(cookie, /HttpOnly/);
      });

      it('accepts the session cookie on GET /api/v1/me', async () => {
        const r = await restCall(`${api}/me`, 'GET', { cookie: alice.cookie });
        assert.equal(r.status, 200);
        assert.deepEqual(r.json, { username: 'alice', role: 'USER', groups: [], via: 'session' });
      });

      it("answers a wrong password with 401 LOGIN_FAILED and Azkaban's text, and no cookie", async () => {
        const r = await restCall(`${api}/login`, 'POST', { json: { username: 'alice', password: 'wrong' } });
        assert.equal(r.status, 401);
        assert.deepEqual(r.json, LOGIN_FAILED);
        assert.equal(r.headers.get('set-cookie'), null);
      });

      it('refuses with 400 a login whose password is in the query string, even a right one', async () => {
        const r = await restCall(`${api}/login?password=alice-password`, 'POST', {
          json: { username: 'alice', password: 'alice-password' },
        });
        assert.equal(r.status, 400);
        assert.deepEqual(r.json, { code: 'BAD_REQUEST', message: 'Login error. Must pass username and password in request body' });
        assert.equal(r.headers.get('set-cookie'), null);
      });

      it('refuses with 400 a login without a password', async () => {
        const r = await restCall(`${api}/login`, 'POST', { json: { username: 'alice' } });
        assert.equal(r.status, 400);
        assert.deepEqual(r.json, { code: 'BAD_REQUEST', message: 'Pass "username" and "password" in the request body.' });
      });

      it('logs out with 204: that session answers 401 afterwards while other sessions keep working', async () => {
        const s = await restLogin(api, 'alice', 'alice-password');
        assert.equal((await restCall(`${api}/me`, 'GET', { cookie: s.cookie })).status, 200);
        const out = await restCall(`${api}/logout`, 'POST', { cookie: s.cookie });
        assert.equal(out.status, 204);
        assert.match(out.headers.get('set-cookie') ?? '', new RegExp(`^${COOKIE.replace(/\./g, '\\.')}=;`));
        const after = await restCall(`${api}/me`, 'GET', { cookie: s.cookie });
        assert.equal(after.status, 401);
        assert.deepEqual(after.json, UNAUTHENTICATED);
        assert.equal((await restCall(`${api}/me`, 'GET', { cookie: alice.cookie })).status, 200);
      });

      it('answers 401 to /me without credentials and with an unknown session', async () => {
        const none = await restCall(`${api}/me`, 'GET');
        assert.equal(none.status, 401);
        assert.deepEqual(none.json, UNAUTHENTICATED);
        const unknown = await restCall(`${api}/me`, 'GET', { cookie: `${COOKIE}=not-a-session` });
        assert.equal(unknown.status, 401);
      });
    });

    describe('API tokens', () => {
      let token: string;
      let tokenId: number;

      it('creates a token with 201, showing the cst_ secret once', async () => {
        const r = await restCall(`${api}/tokens`, 'POST', { cookie: alice.cookie, json: { name: 'ci pipeline' } });
        assert.equal(r.status, 201);
        token = String(r.json.token);
        tokenId = Number(r.json.id);
        assert.match(token, /^cst_[A-Za-z0-9_-]{43}$/);
        assert.ok(Number.isInteger(tokenId));
        assert.equal(r.json.name, 'ci pipeline');
        assert.equal(r.json.prefix, token.slice(0, 12));
        assert.equal(r.json.revokedAt, null);
      });

      it('authenticates Authorization: Bearer <token> as its owner on /projects and /me', async () => {
        const projects = await restCall(`${api}/projects`, 'GET', { token });
        assert.equal(projects.status, 200);
        assert.deepEqual(projects.json, { projects: [] });
        const me = await restCall(`${api}/me`, 'GET', { token });
        assert.deepEqual(me.json, { username: 'alice', role: 'USER', groups: [], via: 'token' });
      });

      it("lists the caller's tokens without their secrets", async () => {
        const r = await restCall(`${api}/tokens`, 'GET', { cookie: alice.cookie });
        assert.equal(r.status, 200);
        const list = r.json.tokens as Record<string, unknown>[];
        assert.deepEqual(
          list.map((x) => [x.id, x.name, x.prefix, x.revokedAt]),
          [[tokenId, 'ci pipeline', token.slice(0, 12), null]],
        );
        assert.equal(list[0]!.token, undefined);
        assert.ok(!r.text.includes(token), 'the secret must not appear in a listing');
        const forBob = await restCall(`${api}/tokens`, 'GET', { cookie: bob.cookie });
        assert.deepEqual(forBob.json, { tokens: [] });
      });

      it("refuses with 403 to revoke another user's token, which keeps working", async () => {
        const r = await restCall(`${api}/tokens/${tokenId}`, 'DELETE', { cookie: bob.cookie });
        assert.equal(r.status, 403);
        assert.deepEqual(r.json, {
          code: 'FORBIDDEN',
          message: `API token ${tokenId} belongs to another user; only its owner or an admin may revoke it.`,
        });
        assert.equal((await restCall(`${api}/projects`, 'GET', { token })).status, 200);
      });

      it('answers 404 to revoking an unknown token id and 400 to a non-numeric one', async () => {
        const unknown = await restCall(`${api}/tokens/987654`, 'DELETE', { cookie: alice.cookie });
        assert.equal(unknown.status, 404);
        assert.deepEqual(unknown.json, { code: 'NOT_FOUND', message: 'API token 987654 not found.' });
        const bad = await restCall(`${api}/tokens/abc`, 'DELETE', { cookie: alice.cookie });
        assert.equal(bad.status, 400);
        assert.deepEqual(bad.json, { code: 'BAD_REQUEST', message: 'Token id must be a number, got "abc".' });
      });

      it('refuses with 400 a token without a name', async () => {
        const r = await restCall(`${api}/tokens`, 'POST', { cookie: alice.cookie, json: { name: '  ' } });
        assert.equal(r.status, 400);
        assert.deepEqual(r.json, { code: 'BAD_REQUEST', message: 'Pass a "name" for the token (what it is for).' });
      });

      it('revokes a token with 204, after which it answers 401 and is listed as revoked', async () => {
        const r = await restCall(`${api}/tokens/${tokenId}`, 'DELETE', { cookie: alice.cookie });
        assert.equal(r.status, 204);
        const use = await restCall(`${api}/projects`, 'GET', { token });
        assert.equal(use.status, 401);
        assert.deepEqual(use.json, UNAUTHENTICATED);
        const list = (await restCall(`${api}/tokens`, 'GET', { cookie: alice.cookie })).json.tokens as Record<string, unknown>[];
        assert.equal(typeof list[0]!.revokedAt, 'number');
      });

      it("lets a global admin revoke another user's token", async () => {
        const created = await restCall(`${api}/tokens`, 'POST', { cookie: bob.cookie, json: { name: 'bob-ci' } });
        const r = await restCall(`${api}/tokens/${String(created.json.id)}`, 'DELETE', { cookie: admin.cookie });
        assert.equal(r.status, 204);
        assert.equal((await restCall(`${api}/me`, 'GET', { token: String(created.json.token) })).status, 401);
      });
    });

    describe('projects', () => {
      let projectId: number;

      it('creates a project with 201 and answers it', async () => {
        const r = await restCall(`${api}/projects`, 'POST', {
          cookie: alice.cookie,
          json: { name: 'hello', description: 'first project' },
        });
        assert.equal(r.status, 201);
        projectId = Number(r.json.id);
        assert.ok(Number.isInteger(projectId));
        assert.deepEqual(
          { ...r.json, id: 0, createdAt: 0, modifiedAt: 0 },
          {
            id: 0,
            name: 'hello',
            description: 'first project',
            createdBy: 'alice',
            createdAt: 0,
            modifiedBy: 'alice',
            modifiedAt: 0,
            currentVersion: null,
          },
        );
      });

      it('refuses a duplicate project name with 409 PROJECT_EXISTS', async () => {
        const r = await restCall(`${api}/projects`, 'POST', { cookie: bob.cookie, json: { name: 'hello', description: 'again' } });
        assert.equal(r.status, 409);
        assert.deepEqual(r.json, { code: 'PROJECT_EXISTS', message: 'Project hello already exists.' });
      });

      it('refuses an invalid project name with 400', async () => {
        const r = await restCall(`${api}/projects`, 'POST', { cookie: alice.cookie, json: { name: '1abc', description: 'x' } });
        assert.equal(r.status, 400);
        assert.equal(r.json.code, 'BAD_REQUEST');
        assert.match(String(r.json.message), /^Project names must start with a letter.*got "1abc"\.$/);
      });

      it('uploads a zip sent as the raw application/zip body with 201', async () => {
        const r = await restCall(`${api}/projects/hello/versions`, 'POST', { cookie: alice.cookie, body: zipOfExample('hello-flow') });
        assert.equal(r.status, 201);
        assert.deepEqual(r.json, { projectId, version: 1, flows: ['hello'] });
      });

      it('uploads a zip sent as the multipart field "file" with 201 as the next version', async () => {
        const r = await postMultipart(
          `${api}/projects/hello/versions`,
          {},
          { file: { name: 'hello-v2.zip', type: 'application/zip', content: zipOfExample('hello-flow') } },
          { cookie: alice.cookie },
        );
        assert.equal(r.status, 201);
        assert.deepEqual(r.json, { projectId, version: 2, flows: ['hello'] });
      });

      it('refuses a body that is not a zip with 400 INVALID_ARCHIVE and stores nothing', async () => {
        const versions = await countRows(t, 'project_versions');
        const files = await countRows(t, 'project_files');
        const r = await restCall(`${api}/projects/hello/versions`, 'POST', {
          cookie: alice.cookie,
          body: Buffer.from('this is not a zip archive at all'),
        });
        assert.equal(r.status, 400);
        assert.equal(r.json.code, 'INVALID_ARCHIVE');
        assert.match(String(r.json.message), /not a valid zip archive/);
        assert.equal(await countRows(t, 'project_versions'), versions);
        assert.equal(await countRows(t, 'project_files'), files);
        const p = await restCall(`${api}/projects/hello`, 'GET', { cookie: alice.cookie });
        assert.equal(p.json.currentVersion, 2);
      });

      it('refuses an invalid flow with 400 INVALID_FLOW_YAML listing each problem with file, line and column', async () => {
        const versions = await countRows(t, 'project_versions');
        const r = await restCall(`${api}/projects/hello/versions`, 'POST', { cookie: alice.cookie, body: DUPLICATE_KEY_ZIP() });
        assert.equal(r.status, 400);
        assert.deepEqual(r.json, {
          code: 'INVALID_FLOW_YAML',
          message: 'f.flow:4:5: duplicate key "type"',
          problems: [{ message: 'duplicate key "type"', file: 'f.flow', line: 4, column: 5 }],
        });
        assert.equal(await countRows(t, 'project_versions'), versions);
      });

      it('refuses an upload without any zip with 400', async () => {
        const r = await restCall(`${api}/projects/hello/versions`, 'POST', { cookie: alice.cookie });
        assert.equal(r.status, 400);
        assert.deepEqual(r.json, {
          code: 'BAD_REQUEST',
          message: 'Send the project zip as the request body (Content-Type: application/zip) or as the multipart field "file".',
        });
      });

      it('describes a project with its flows, current version and the caller’s permissions', async () => {
        const r = await restCall(`${api}/projects/hello`, 'GET', { cookie: alice.cookie });
        assert.equal(r.status, 200);
        assert.equal(r.json.name, 'hello');
        assert.equal(r.json.currentVersion, 2);
        assert.deepEqual(r.json.flows, ['hello']);
        assert.deepEqual(r.json.yourPermissions, ['ADMIN']);
        const v = r.json.version as Record<string, unknown>;
        assert.deepEqual(
          [v.projectId, v.version, v.format, v.fileName, v.uploadedBy, v.numFiles],
          [projectId, 2, '2.0', 'hello-v2.zip', 'alice', 3],
        );
        assert.match(String(v.archiveSha256), /^[0-9a-f]{64}$/);
      });

      it('lists the flows of the current version', async () => {
        const r = await restCall(`${api}/projects/hello/flows`, 'GET', { cookie: alice.cookie });
        assert.equal(r.status, 200);
        assert.deepEqual(r.json, { project: 'hello', projectId, version: 2, flows: ['hello'] });
      });

      it('answers a flow with its definition and its graph', async () => {
        const r = await restCall(`${api}/projects/hello/flows/hello`, 'GET', { cookie: alice.cookie });
        assert.equal(r.status, 200);
        assert.deepEqual([r.json.project, r.json.projectId, r.json.version], ['hello', projectId, 2]);
        const flow = r.json.flow as { name: string; file: string; config: unknown; nodes: { name: string; dependsOn: string[] }[] };
        assert.equal(flow.name, 'hello');
        assert.equal(flow.file, 'hello.flow');
        assert.deepEqual(flow.config, { 'greeting.name': 'world' });
        assert.deepEqual(
          flow.nodes.map((n) => [n.name, n.dependsOn]),
          [
            ['greet', []],
            ['count', ['greet']],
            ['done', ['count']],
          ],
        );
        assert.deepEqual(r.json.graph, [
          { id: 'count', type: 'command', in: ['greet'] },
          { id: 'done', type: 'noop', in: ['count'] },
          { id: 'greet', type: 'command' },
        ]);
      });

      it('answers 404 FLOW_NOT_FOUND for a flow the project does not have', async () => {
        const r = await restCall(`${api}/projects/hello/flows/nope`, 'GET', { cookie: alice.cookie });
        assert.equal(r.status, 404);
        assert.deepEqual(r.json, { code: 'FLOW_NOT_FOUND', message: 'Flow nope not found in project hello.' });
      });

      it('adds, changes and deletes user and group permissions', async () => {
        const perms = async () => (await restCall(`${api}/projects/hello/permissions`, 'GET', { cookie: alice.cookie })).json;
        const add = await restCall(`${api}/projects/hello/permissions`, 'POST', {
          cookie: alice.cookie,
          json: { type: 'user', name: 'bob', permissions: ['read'] },
        });
        assert.equal(add.status, 201);
        const group = await restCall(`${api}/projects/hello/permissions`, 'POST', {
          cookie: alice.cookie,
          json: { type: 'group', name: 'analysts', permissions: ['READ'] },
        });
        assert.equal(group.status, 201);
        assert.deepEqual(await perms(), {
          project: 'hello',
          projectId,
          permissions: [
            { type: 'group', name: 'analysts', permissions: ['READ'] },
            { type: 'user', name: 'alice', permissions: ['ADMIN'] },
            { type: 'user', name: 'bob', permissions: ['READ'] },
          ],
        });
        const viaGroup = await restCall(`${api}/projects/hello`, 'GET', { cookie: carol.cookie });
        assert.deepEqual(viaGroup.json.yourPermissions, ['READ']);

        const again = await restCall(`${api}/projects/hello/permissions`, 'POST', {
          cookie: alice.cookie,
          json: { type: 'user', name: 'bob', permissions: ['READ'] },
        });
        assert.equal(again.status, 409);
        assert.deepEqual(again.json, { code: 'CONFLICT', message: 'User permission already exists.' });

        const change = await restCall(`${api}/projects/hello/permissions/user/bob`, 'PUT', {
          cookie: alice.cookie,
          json: { permissions: ['WRITE', 'READ'] },
        });
        assert.equal(change.status, 204);
        const bobs = (await perms()).permissions as { name: string; permissions: string[] }[];
        assert.deepEqual(bobs.find((g) => g.name === 'bob')?.permissions, ['READ', 'WRITE']);

        const del = await restCall(`${api}/projects/hello/permissions/user/bob`, 'DELETE', { cookie: alice.cookie });
        assert.equal(del.status, 204);
        const names = ((await perms()).permissions as { name: string }[]).map((g) => g.name).sort();
        assert.deepEqual(names, ['alice', 'analysts']);
        const gone = await restCall(`${api}/projects/hello/permissions/user/bob`, 'DELETE', { cookie: alice.cookie });
        assert.equal(gone.status, 404);
        assert.deepEqual(gone.json, { code: 'NOT_FOUND', message: 'Permissions for bob cannot be found.' });
        const denied = await restCall(`${api}/projects/hello`, 'GET', { cookie: bob.cookie });
        assert.equal(denied.status, 403);
      });

      it('refuses permission changes with unknown permission names or principal types with 400', async () => {
        const badPerm = await restCall(`${api}/projects/hello/permissions`, 'POST', {
          cookie: alice.cookie,
          json: { type: 'user', name: 'bob', permissions: ['FLY'] },
        });
        assert.equal(badPerm.status, 400);
        assert.deepEqual(badPerm.json, {
          code: 'BAD_REQUEST',
          message: 'Unknown permission "FLY": expected one of READ, WRITE, EXECUTE, SCHEDULE, ADMIN.',
        });
        const badType = await restCall(`${api}/projects/hello/permissions/robot/bob`, 'PUT', {
          cookie: alice.cookie,
          json: { permissions: ['READ'] },
        });
        assert.equal(badType.status, 400);
        assert.deepEqual(badType.json, { code: 'BAD_REQUEST', message: '"type" must be "user" or "group", got "robot".' });
      });

      it('records project events, newest first', async () => {
        const r = await restCall(`${api}/projects/hello/events`, 'GET', { cookie: alice.cookie });
        assert.equal(r.status, 200);
        assert.equal(r.json.project, 'hello');
        assert.equal(r.json.projectId, projectId);
        const events = r.json.events as { actor: string; action: string }[];
        assert.deepEqual(
          events.map((e) => e.action),
          ['PERMISSION_REMOVED', 'PERMISSION_CHANGED', 'PERMISSION_ADDED', 'PERMISSION_ADDED', 'UPLOADED', 'UPLOADED', 'CREATED'],
        );
        assert.ok(events.every((e) => e.actor === 'alice'));
      });

      it('lists only the projects the caller may read, and every project for a global admin', async () => {
        const names = async (login: Login) =>
          ((await restCall(`${api}/projects`, 'GET', { cookie: login.cookie })).json.projects as { name: string }[]).map((p) => p.name);
        assert.deepEqual(await names(alice), ['hello']);
        assert.deepEqual(await names(carol), ['hello']);
        assert.deepEqual(await names(bob), []);
        assert.deepEqual(await names(admin), ['hello']);
      });

      it('deletes a project with 204, after which it answers 404 and its name is free again', async () => {
        await restCall(`${api}/projects`, 'POST', { cookie: alice.cookie, json: { name: 'doomed', description: 'to delete' } });
        const del = await restCall(`${api}/projects/doomed`, 'DELETE', { cookie: alice.cookie });
        assert.equal(del.status, 204);
        const gone = await restCall(`${api}/projects/doomed`, 'GET', { cookie: alice.cookie });
        assert.equal(gone.status, 404);
        assert.deepEqual(gone.json, { code: 'PROJECT_NOT_FOUND', message: "Project doomed doesn't exist." });
        const again = await restCall(`${api}/projects/doomed`, 'DELETE', { cookie: alice.cookie });
        assert.equal(again.status, 404);
        const reborn = await restCall(`${api}/projects`, 'POST', { cookie: alice.cookie, json: { name: 'doomed', description: 'reborn' } });
        assert.equal(reborn.status, 201);
      });
    });

    describe('permission checks on every project endpoint', () => {
      type Need = 'READ' | 'WRITE' | 'ADMIN';
      interface Endpoint {
        method: string;
        path: string;
        need: Need;
        ok: number;
        json?: unknown;
        zip?: boolean;
      }
      // Global-admin calls run in this order: dave's grant is added, changed and removed; the delete comes last.
      const endpoints = (p: string): Endpoint[] => [
        { method: 'GET', path: `/projects/${p}`, need: 'READ', ok: 200 },
        { method: 'GET', path: `/projects/${p}/flows`, need: 'READ', ok: 200 },
        { method: 'GET', path: `/projects/${p}/flows/hello`, need: 'READ', ok: 200 },
        { method: 'GET', path: `/projects/${p}/permissions`, need: 'READ', ok: 200 },
        { method: 'GET', path: `/projects/${p}/events`, need: 'READ', ok: 200 },
        { method: 'POST', path: `/projects/${p}/versions`, need: 'WRITE', ok: 201, zip: true },
        {
          method: 'POST',
          path: `/projects/${p}/permissions`,
          need: 'ADMIN',
          ok: 201,
          json: { type: 'user', name: 'dave', permissions: ['READ'] },
        },
        { method: 'PUT', path: `/projects/${p}/permissions/user/dave`, need: 'ADMIN', ok: 204, json: { permissions: ['READ', 'EXECUTE'] } },
        { method: 'DELETE', path: `/projects/${p}/permissions/user/dave`, need: 'ADMIN', ok: 204 },
        { method: 'DELETE', path: `/projects/${p}`, need: 'ADMIN', ok: 204 },
      ];
      const call = (e: Endpoint, login?: Login): Promise<HttpAnswer> =>
        restCall(`${api}${e.path}`, e.method, {
          cookie: login?.cookie,
          json: e.json,
          body: e.zip ? zipOfExample('hello-flow') : undefined,
        });
      const label = (e: Endpoint) => `${e.method} ${e.path.replace(/^\/projects\/\w+/, '/projects/:p')}`;
      const guardedState = async () => ({
        project: (await t.tdb.db('projects').where({ name: 'guarded' }).select('current_version', 'deleted_at')) as unknown[],
        grants: (await restCall(`${api}/projects/guarded/permissions`, 'GET', { cookie: alice.cookie })).json,
        versions: await countRows(t, 'project_versions'),
      });
      let initialState: Awaited<ReturnType<typeof guardedState>>;

      before(async () => {
        await t.server.auth.createUser({ username: 'dave', password: 'dave-password', role: 'USER' });
        const c = await restCall(`${api}/projects`, 'POST', {
          cookie: alice.cookie,
          json: { name: 'guarded', description: 'secret plans' },
        });
        assert.equal(c.status, 201, c.text);
        const u = await restCall(`${api}/projects/guarded/versions`, 'POST', { cookie: alice.cookie, body: zipOfExample('hello-flow') });
        assert.equal(u.status, 201, u.text);
        for (const [name, permission] of [
          ['carol', 'READ'],
          ['erin', 'WRITE'],
        ] as const) {
          const g = await restCall(`${api}/projects/guarded/permissions`, 'POST', {
            cookie: alice.cookie,
            json: { type: 'user', name, permissions: [permission] },
          });
          assert.equal(g.status, 201, g.text);
        }
        initialState = await guardedState();
      });

      for (const e of endpoints('guarded')) {
        it(`refuses ${label(e)} with 403 to a user without a grant, without the project's data`, async () => {
          const r = await call(e, bob);
          assert.equal(r.status, 403, r.text);
          assert.deepEqual(r.json, { code: 'FORBIDDEN', message: `Permission denied. Need ${e.need} access.` });
        });
      }

      for (const e of endpoints('guarded')) {
        const allowed = e.need === 'READ';
        it(`${allowed ? 'allows' : 'refuses with 403'} ${label(e)} to a user with READ`, async () => {
          const r = await call(e, carol);
          if (allowed) {
            assert.equal(r.status, e.ok, r.text);
          } else {
            assert.equal(r.status, 403, r.text);
            assert.deepEqual(r.json, { code: 'FORBIDDEN', message: `Permission denied. Need ${e.need} access.` });
          }
        });
      }

      it('leaves the project untouched after the refused calls', async () => {
        assert.deepEqual(await guardedState(), initialState);
      });

      it("shows a READ user's own permissions in the project description", async () => {
        const r = await restCall(`${api}/projects/guarded`, 'GET', { cookie: carol.cookie });
        assert.deepEqual(r.json.yourPermissions, ['READ']);
        assert.equal(r.json.description, 'secret plans');
      });

      it('allows an upload but refuses permission changes and deletion to a user with WRITE', async () => {
        for (const e of endpoints('guarded').filter((x) => x.method !== 'GET')) {
          const r = await call(e, erin);
          if (e.need === 'WRITE') assert.equal(r.status, e.ok, `${label(e)}: ${r.text}`);
          else
            assert.deepEqual([r.status, r.json], [403, { code: 'FORBIDDEN', message: 'Permission denied. Need ADMIN access.' }], label(e));
        }
      });

      for (const e of endpoints('ghost')) {
        it(`answers ${label(e)} of an unknown project with 404 to everyone`, async () => {
          for (const [who, login] of [
            ['no grant', bob],
            ['READ', carol],
            ['global admin', admin],
          ] as const) {
            const r = await call(e, login);
            assert.equal(r.status, 404, `${who}: ${r.text}`);
            assert.deepEqual(r.json, { code: 'PROJECT_NOT_FOUND', message: "Project ghost doesn't exist." }, who);
          }
        });
      }

      for (const e of [...endpoints('guarded'), ...endpoints('ghost')]) {
        it(`answers ${label(e)}${e.path.includes('ghost') ? ' of an unknown project' : ''} with 401 without credentials, with or without a body`, async () => {
          const r = await call(e);
          assert.equal(r.status, 401, r.text);
          assert.deepEqual(r.json, UNAUTHENTICATED);
          const bare = await restCall(`${api}${e.path}`, e.method);
          assert.equal(bare.status, 401, `without a body: ${bare.text}`);
          assert.deepEqual(bare.json, UNAUTHENTICATED);
        });
      }

      it('answers 401 without credentials on the project list, project creation and tokens', async () => {
        for (const [method, path] of [
          ['GET', '/projects'],
          ['POST', '/projects'],
          ['GET', '/tokens'],
          ['POST', '/tokens'],
          ['DELETE', '/tokens/1'],
          ['DELETE', '/tokens/abc'],
        ] as const) {
          const r = await restCall(`${api}${path}`, method);
          assert.deepEqual([r.status, r.json], [401, UNAUTHENTICATED], `${method} ${path}`);
        }
      });

      for (const e of endpoints('guarded')) {
        it(`allows ${label(e)} to a global admin`, async () => {
          const r = await call(e, admin);
          assert.equal(r.status, e.ok, r.text);
        });
      }

      it('has deleted the project through the global admin', async () => {
        const r = await restCall(`${api}/projects/guarded`, 'GET', { cookie: alice.cookie });
        assert.equal(r.status, 404);
      });
    });

    describe('errors', () => {
      it('answers an unknown endpoint with 404 NOT_FOUND in JSON', async () => {
        for (const login of [undefined, alice]) {
          const r = await restCall(`${api}/nope`, 'GET', { cookie: login?.cookie });
          assert.equal(r.status, 404);
          assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
          assert.equal(r.json.code, 'NOT_FOUND');
          assert.equal(r.json.message, 'No such endpoint: GET /api/v1/nope. See docs/api.md.');
        }
        const wrongMethod = await restCall(`${api}/projects`, 'PATCH', { cookie: alice.cookie, json: {} });
        assert.deepEqual([wrongMethod.status, wrongMethod.json.code], [404, 'NOT_FOUND']);
      });

      it('answers a malformed JSON body with 400 saying the body is not valid JSON', async () => {
        const r = await restCall(`${api}/projects`, 'POST', {
          cookie: alice.cookie,
          body: Buffer.from('{"name": "x",'),
          contentType: 'application/json',
        });
        assert.equal(r.status, 400);
        assert.equal(r.json.code, 'BAD_REQUEST');
        assert.match(String(r.json.message), /^The request body is not valid JSON: ./);
      });

      it('answers a JSON body over 1 MiB with 413 PAYLOAD_TOO_LARGE, not an internal error', async () => {
        const r = await restCall(`${api}/projects`, 'POST', {
          cookie: alice.cookie,
          json: { name: 'big', description: 'x'.repeat(1024 * 1024 + 1) },
        });
        assert.equal(r.status, 413, r.text);
        assert.deepEqual(r.json, { code: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than the limit of 1048576 bytes.' });
        assert.equal(await t.tdb.db('projects').where({ name: 'big' }).first(), undefined);
      });

      it('answers a JSON body in an unsupported charset with 400, not an internal error', async () => {
        const res = await fetch(`${api}/projects`, {
          method: 'POST',
          headers: { cookie: alice.cookie, 'content-type': 'application/json; charset=x-klingon' },
          body: JSON.stringify({ name: 'seven', description: 'x' }),
        });
        assert.equal(res.status, 400);
        assert.deepEqual(await res.json(), {
          code: 'BAD_REQUEST',
          message: 'The request body cannot be read: unsupported charset "X-KLINGON"',
        });
      });
    });
  });

  describe(`REST API with tight limits [${dialect}]`, function () {
    this.timeout(60_000);
    let t: TestServer;
    let api: string;
    let admin: Login;

    before(async () => {
      t = await startTestServer(dialect, { CAISSON_LOGIN_MAX_FAILURES: '2', CAISSON_UPLOAD_MAX_BYTES: '4KiB' });
      api = `${t.url}/api/v1`;
      await t.server.auth.createUser({ username: 'alice', password: 'alice-password', role: 'USER' });
      admin = await restLogin(api, 'azkaban', ADMIN_PASSWORD);
      const c = await restCall(`${api}/projects`, 'POST', { cookie: admin.cookie, json: { name: 'small', description: 'limits' } });
      assert.equal(c.status, 201, c.text);
    });
    after(async () => {
      await t?.stop();
    });

    it('accepts an upload under the size limit', async () => {
      const r = await restCall(`${api}/projects/small/versions`, 'POST', { cookie: admin.cookie, body: zipOfExample('hello-flow') });
      assert.equal(r.status, 201, r.text);
    });

    it('refuses a raw zip body over the upload limit with 413 PAYLOAD_TOO_LARGE', async () => {
      const r = await restCall(`${api}/projects/small/versions`, 'POST', { cookie: admin.cookie, body: Buffer.alloc(4097, 1) });
      assert.equal(r.status, 413, r.text);
      assert.deepEqual(r.json, { code: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than the limit of 4096 bytes.' });
    });

    it('refuses a multipart file over the upload limit with 413 PAYLOAD_TOO_LARGE', async () => {
      const r = await postMultipart(
        `${api}/projects/small/versions`,
        {},
        { file: { name: 'big.zip', type: 'application/zip', content: Buffer.alloc(4097, 1) } },
        { cookie: admin.cookie },
      );
      assert.equal(r.status, 413, r.text);
      assert.deepEqual(r.json, {
        code: 'PAYLOAD_TOO_LARGE',
        message: 'Multipart file field "file" is larger than the limit of 4096 bytes',
      });
    });

    it('refuses the third login after two failures with 429 TOO_MANY_REQUESTS, even with the right password', async () => {
      for (let i = 1; i <= 2; i++) {
        const r = await restCall(`${api}/login`, 'POST', { json: { username: 'alice', password: `wrong-${i}` } });
        assert.deepEqual([r.status, r.json], [401, LOGIN_FAILED], `attempt ${i}`);
      }
      const r = await restCall(`${api}/login`, 'POST', { json: { username: 'alice', password: 'alice-password' } });
      assert.equal(r.status, 429, r.text);
      assert.equal(r.json.code, 'TOO_MANY_REQUESTS');
      assert.equal(r.json.retryable, true);
      assert.match(String(r.json.message), /^Too many failed logins for user "alice"\. Try again in \d+ seconds, at \d{4}-\d\d-\d\dT/);
      assert.equal(r.headers.get('set-cookie'), null);
    });

    it('refuses other users logging in from the same address while it is limited, but keeps open sessions working', async () => {
      const r = await restCall(`${api}/login`, 'POST', { json: { username: 'azkaban', password: ADMIN_PASSWORD } });
      assert.equal(r.status, 429, r.text);
      assert.match(String(r.json.message), /^Too many failed logins from address /);
      const me = await restCall(`${api}/me`, 'GET', { cookie: admin.cookie });
      assert.equal(me.status, 200);
    });
  });
}
