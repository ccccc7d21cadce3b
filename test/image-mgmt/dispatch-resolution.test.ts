import assert from 'node:assert/strict';
import { testDialects } from '../../common/db/test-database.js';
import { storeVersionSet } from '../../image-mgmt/src/version-set-store.js';
import { ADMIN_PASSWORD, ajaxLogin, postForm, postMultipart, restCall, startTestServer, type TestServer } from '../support/test-server.js';
import { zipOfFiles } from '../support/projects.js';
import { waitFor } from '../support/wait.js';

type Json = Record<string, unknown>;
const PROJECT_FILE = 'azkaban-flow-version: 2.0\n';
const ECHO = 'nodes:\n  - name: hi\n    type: command\n    config:\n      command: echo hi\n';

for (const dialect of testDialects()) {
  describe(`version sets at dispatch [${dialect}]`, function () {
    this.timeout(120_000);
    let t: TestServer;
    let admin: string;

    const rest = async (method: string, path: string, json?: unknown) =>
      restCall(`${t.url}${path}`, method, { cookie: `azkaban.browser.session.id=${admin}`, ...(json === undefined ? {} : { json }) });
    const exec = async (project: string, flow: string, extra: Record<string, string> = {}): Promise<number> => {
      const r = await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'executeFlow', project, flow, ...extra });
      assert.equal(r.json.error, undefined, r.text);
      return Number(r.json.execid);
    };
    const waitFinal = (execid: number) =>
      waitFor(
        `execution ${execid} to finish`,
        async () => {
          const r = await rest('GET', `/api/v1/executions/${execid}`);
          return ['SUCCEEDED', 'FAILED', 'KILLED', 'EXECUTION_STOPPED'].includes(String(r.json.status)) ? r.json : undefined;
        },
        60_000,
        100,
      );
    const upload = async (project: string, files: Record<string, string>) => {
      await postForm(`${t.url}/manager?action=create`, { 'session.id': admin, name: project, description: project });
      const r = await postMultipart(
        `${t.url}/manager`,
        { 'session.id': admin, ajax: 'upload', project },
        { file: { name: 'p.zip', type: 'application/zip', content: zipOfFiles(files) } },
      );
      assert.equal(r.json.error, undefined, r.text);
    };

    before(async () => {
      t = await startTestServer(dialect);
      admin = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
      await upload('echo', { 'p.project': PROJECT_FILE, 'echo.flow': ECHO });
    });
    after(async () => {
      await t?.stop();
    });

    it('records the resolved version set on the execution and serves it by id', async () => {
      const f = await waitFinal(await exec('echo', 'echo'));
      assert.equal(f.status, 'SUCCEEDED');
      assert.equal(typeof f.versionSetId, 'number');
      const set = await rest('GET', `/api/v1/version-sets/${String(f.versionSetId)}`);
      assert.equal(set.status, 200);
      assert.deepEqual(set.json.images, { 'caisson-base': { image: 'caisson-base:0.0.0', version: '0.0.0' } });
    });

    it('stops an execution whose image.<type>.version names an unknown version, naming type and version', async () => {
      const f = await waitFinal(await exec('echo', 'echo', { 'flowOverride[image.caisson-base.version]': '9.9' }));
      assert.equal(f.status, 'EXECUTION_STOPPED');
      assert.equal(
        f.failureReason,
        'cannot resolve the images of the execution: image.caisson-base.version: version 9.9 of image type caisson-base is not registered',
      );
    });

    it('reproduces an execution with its azkaban.version-set.id after the ACTIVE version moved, and says why in the dry run', async () => {
      const first = await waitFinal(await exec('echo', 'echo'));
      const created = await rest('POST', '/imageVersions', {
        imageType: 'caisson-base',
        imagePath: 'caisson-base',
        imageVersion: '0.0.1',
        versionState: 'ACTIVE',
      });
      assert.equal(created.status, 201);
      const movedId = await exec('echo', 'echo');
      const moved = await waitFinal(movedId);
      assert.notEqual(moved.versionSetId, first.versionSetId);
      const pinned = await waitFinal(await exec('echo', 'echo', { 'flowOverride[azkaban.version-set.id]': String(first.versionSetId) }));
      assert.equal(pinned.status, 'SUCCEEDED');
      assert.equal(pinned.versionSetId, first.versionSetId);

      const dry = await rest('GET', '/api/v1/version-sets/resolve?project=echo&flow=echo');
      assert.equal(dry.status, 200);
      assert.deepEqual(dry.json.images, [
        { imageType: 'caisson-base', imageVersion: '0.0.1', image: 'caisson-base:0.0.1', reason: 'active', why: 'the ACTIVE version' },
      ]);
      const why = await rest('GET', `/api/v1/executions/${movedId}/images`);
      assert.deepEqual(why.json, {
        execId: movedId,
        versionSetId: moved.versionSetId,
        images: { 'caisson-base': { image: 'caisson-base:0.0.1', version: '0.0.1' } },
        resolution: [{ imageType: 'caisson-base', version: '0.0.1', reason: 'active', why: 'the ACTIVE version' }],
      });
      const dryPinned = await rest(
        'GET',
        `/api/v1/version-sets/resolve?project=echo&flow=echo&flowOverride[azkaban.version-set.id]=${String(first.versionSetId)}`,
      );
      assert.equal((dryPinned.json.images as Json[])[0]!.reason, 'pinned');
    });

    it('re-resolves a pinned version that is no longer runnable and records that on the execution', async () => {
      const firstId = await exec('echo', 'echo', { 'flowOverride[image.caisson-base.version]': '0.0.0' });
      const first = await waitFinal(firstId);
      const versions = (await rest('GET', '/imageVersions?imageType=caisson-base&imageVersion=0.0.0')).json as unknown as Json[];
      await rest('POST', `/imageVersions/${String(versions[0]!.id)}`, { imageType: 'caisson-base', versionState: 'DEPRECATED' });
      const againId = await exec('echo', 'echo', { 'flowOverride[azkaban.version-set.id]': String(first.versionSetId) });
      const again = await waitFinal(againId);
      assert.equal(again.status, 'SUCCEEDED');
      const why = await rest('GET', `/api/v1/executions/${againId}/images`);
      assert.deepEqual(why.json.resolution, [
        {
          imageType: 'caisson-base',
          version: '0.0.1',
          reason: 'active',
          why: 'the pinned version 0.0.0 is no longer runnable; re-resolved: the ACTIVE version',
          repinned: true,
        },
      ]);
      await rest('POST', `/imageVersions/${String(versions[0]!.id)}`, { imageType: 'caisson-base', versionState: 'STABLE' });
    });

    it('names an unknown jobtype in the dry run', async () => {
      await upload('exotic', { 'p.project': PROJECT_FILE, 'exotic.flow': 'nodes:\n  - name: a\n    type: sparkly\n' });
      const dry = await rest('GET', '/api/v1/version-sets/resolve?project=exotic&flow=exotic');
      assert.equal(dry.json.ok, false);
      assert.deepEqual(dry.json.problems, ['unknown jobtype "sparkly": no image type of that name is registered']);
    });

    it('counts executions and success rates per image version', async () => {
      const r = await rest('GET', '/api/v1/version-sets/stats?imageType=caisson-base');
      assert.equal(r.status, 200);
      const stats = r.json as unknown as Json[];
      const v000 = stats.find((s) => s.version === '0.0.0')!;
      assert.equal(v000.succeeded, 4);
      assert.equal(v000.successRate, 1);
      assert.deepEqual(
        stats.map((s) => s.version),
        ['0.0.0', '0.0.1'],
      );
    });

    it('runs a shipped plugin jobtype at the registered version, its payload copied into the execution', async () => {
      const flow =
        'nodes:\n  - name: b\n    type: bash\n    config:\n      script: echo "bash says $BASH_JOBTYPE_VERSION ${greeting}"\n      greeting: hello\n';
      await upload('shell', { 'p.project': PROJECT_FILE, 'shell.flow': flow });
      const execid = await exec('shell', 'shell');
      const f = await waitFinal(execid);
      assert.equal(f.status, 'SUCCEEDED', String(f.failureReason));
      const set = await rest('GET', `/api/v1/version-sets/${String(f.versionSetId)}`);
      assert.deepEqual((set.json.images as Json).bash, { image: 'bash:1.0.0', version: '1.0.0' });
      const log = await rest('GET', `/api/v1/executions/${execid}/logs?job=b`);
      assert.match(String(log.json.data), /bash says 1\.0\.0 hello/);
    });

    it('stops an execution whose jobtype image has no payload, naming the image', async () => {
      await rest('POST', '/imageTypes', {
        imageType: 'ghost',
        ownerships: [
          { owner: 'azkaban', role: 'ADMIN' },
          { owner: 'someone', role: 'GUEST' },
        ],
      });
      await rest('POST', '/imageVersions', { imageType: 'ghost', imagePath: 'nowhere/ghost', imageVersion: '1.0', versionState: 'ACTIVE' });
      await upload('haunted', { 'p.project': PROJECT_FILE, 'haunted.flow': 'nodes:\n  - name: a\n    type: ghost\n' });
      const f = await waitFinal(await exec('haunted', 'haunted'));
      assert.equal(f.status, 'EXECUTION_STOPPED');
      assert.match(String(f.failureReason), /^the launch failed: no jobtype payload for image nowhere\/ghost:1\.0 under /);
    });

    it('stores a version set once when many writers insert it concurrently', async () => {
      const ids = await Promise.all(Array.from({ length: 8 }, () => storeVersionSet(t.tdb.db, 'f'.repeat(64), '{"x":1}', 1)));
      assert.equal(new Set(ids).size, 1);
      const rows = (await t.tdb
        .db('version_sets')
        .where({ hash: 'f'.repeat(64) })
        .count({ n: '*' })) as { n: number | string }[];
      assert.equal(Number(rows[0]!.n), 1);
    });

    it('answers 404 for an unknown version set', async () => {
      const r = await rest('GET', '/api/v1/version-sets/999999');
      assert.equal(r.status, 404);
      assert.equal(r.json.message, 'version set 999999 does not exist');
    });
  });
}
