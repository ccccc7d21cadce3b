import assert from 'node:assert/strict';
import { testDialects } from '../../common/db/test-database.js';
import {
  ADMIN_PASSWORD,
  ajaxLogin,
  postForm,
  postMultipart,
  restCall,
  startTestServer,
  type HttpAnswer,
  type TestServer,
} from '../support/test-server.js';
import { zipOfFiles } from '../support/projects.js';

for (const dialect of testDialects()) {
  describe(`image-management admin API [${dialect}]`, function () {
    this.timeout(60_000);
    let t: TestServer;
    const sessions: Record<string, string> = {};

    async function call(who: string, method: string, path: string, json?: unknown): Promise<HttpAnswer> {
      return restCall(`${t.url}${path}`, method, {
        cookie: `azkaban.browser.session.id=${sessions[who]}`,
        ...(json === undefined ? {} : { json }),
      });
    }

    async function createType(name: string): Promise<HttpAnswer> {
      return call('admin', 'POST', '/imageTypes', {
        imageType: name,
        description: `${name} jobs`,
        deployable: 'IMAGE',
        ownerships: [
          { owner: 'owner', role: 'admin' },
          { owner: 'member', role: 'MEMBER' },
          { owner: 'guest', role: 'GUEST' },
        ],
      });
    }

    async function addVersion(type: string, version: string, state = 'NEW', who = 'admin'): Promise<HttpAnswer> {
      return call(who, 'POST', '/imageVersions', {
        imagePath: `reg.example.com/jobtypes/${type}`,
        imageVersion: version,
        imageType: type,
        versionState: state,
      });
    }

    before(async () => {
      t = await startTestServer(dialect);
      sessions.admin = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
      for (const u of ['owner', 'member', 'guest', 'stranger']) {
        await t.server.auth.createUser({ username: u, password: `${u}-password`, role: 'USER' });
        sessions[u] = await ajaxLogin(t.url, u, `${u}-password`);
      }
      assert.equal((await createType('spark')).status, 201);
    });
    after(async () => {
      await t?.stop();
    });

    it('registers the base image caisson-base 0.0.0 ACTIVE on first start', async () => {
      const r = await call('admin', 'GET', '/imageVersions?imageType=caisson-base');
      assert.equal(r.status, 200);
      assert.deepEqual(
        (r.json as unknown as Record<string, unknown>[]).map((v) => [v.imagePath, v.imageVersion, v.versionState]),
        [['caisson-base', '0.0.0', 'ACTIVE']],
      );
    });

    it('creates an image type with 201 and a Location, readable with its owners', async () => {
      const r = await createType('hive');
      assert.equal(r.status, 201);
      assert.match(r.headers.get('location') ?? '', /^\/imageTypes\/\d+$/);
      const got = await call('guest', 'GET', '/imageTypes/hive');
      assert.equal(got.status, 200);
      assert.equal(got.json.imageType, 'hive');
      assert.deepEqual(got.json.ownerships, [
        { owner: 'guest', ownerType: 'user', role: 'GUEST' },
        { owner: 'member', ownerType: 'user', role: 'MEMBER' },
        { owner: 'owner', ownerType: 'user', role: 'ADMIN' },
      ]);
    });

    it('lets only a global admin create image types', async () => {
      const r = await call('owner', 'POST', '/imageTypes', { imageType: 'x', ownerships: [] });
      assert.equal(r.status, 403);
      assert.deepEqual(r.json, { error: 'Invalid permission to create image type' });
    });

    it('refuses an image type without a name, with bad owners, or twice, with exact messages', async () => {
      let r = await call('admin', 'POST', '/imageTypes', { description: 'x' });
      assert.equal(r.status, 400);
      assert.equal(r.json.error, 'Required field imageType is null. Must provide valid imageType to create/register image type.');
      r = await call('admin', 'POST', '/imageTypes', { imageType: 'solo', ownerships: [{ owner: 'a', role: 'MEMBER' }] });
      assert.equal(r.json.error, 'ownerships must list at least two owners, one of them with role ADMIN');
      r = await call('admin', 'POST', '/imageTypes', {
        imageType: 'bad name',
        deployable: 'ZIP',
        ownerships: [{ owner: 'a', role: 'BOSS' }],
      });
      assert.equal(
        r.json.error,
        'imageType must be 1 to 64 letters, digits, \'.\', \'_\' or \'-\' starting with a letter or digit, got "bad name"; deployable must be one of IMAGE, JAR, TAR, got "ZIP"; ownerships[0].role must be one of ADMIN, MEMBER, GUEST, got "BOSS"',
      );
      r = await createType('SPARK');
      assert.equal(r.status, 409);
      assert.equal(r.json.error, 'image type spark already exists');
    });

    it('validates image versions with exact messages', async () => {
      let r = await call('member', 'POST', '/imageVersions', {
        imageType: 'spark',
        imagePath: 'reg/spark:1.0',
        imageVersion: '1.x',
        versionState: 'READY',
      });
      assert.equal(r.status, 400);
      assert.equal(
        r.json.error,
        'imagePath must not contain a tag, digest or spaces, got "reg/spark:1.0"; imageVersion must be 1 to 4 dot-separated numbers like 1.2.3, got "1.x"; versionState must be one of NEW, ACTIVE, STABLE, UNSTABLE, DEPRECATED, TEST, got "READY"',
      );
      r = await call('member', 'POST', '/imageVersions', {});
      assert.equal(r.json.error, 'imageType is required; imagePath is required; imageVersion is required');
      r = await addVersion('nosuch', '1.0');
      assert.equal(r.status, 404);
      assert.equal(r.json.error, 'image type nosuch is not registered');
    });

    it('lets MEMBERs create versions, GUESTs only read, and non-owners nothing', async () => {
      assert.equal((await addVersion('spark', '1.9', 'ACTIVE', 'member')).status, 201);
      const guest = await addVersion('spark', '1.11', 'NEW', 'guest');
      assert.equal(guest.status, 403);
      assert.deepEqual(guest.json, { error: 'The user does not have appropriate permissions to access this endpoint' });
      assert.equal((await call('guest', 'GET', '/imageVersions?imageType=spark')).status, 200);
      assert.equal((await call('stranger', 'GET', '/imageVersions?imageType=spark')).status, 403);
      assert.equal((await call('stranger', 'GET', '/imageTypes/spark')).status, 403);
      assert.equal((await addVersion('spark', '1.9', 'NEW', 'member')).json.error, 'version 1.9 of image type spark already exists');
    });

    it('lists versions in numeric order and filters by state', async () => {
      await addVersion('spark', '1.10');
      await addVersion('spark', '1.2');
      const all = await call('guest', 'GET', '/imageVersions?imageType=spark');
      assert.deepEqual(
        (all.json as unknown as Record<string, unknown>[]).map((v) => v.imageVersion),
        ['1.2', '1.9', '1.10'],
      );
      const active = await call('guest', 'GET', '/imageVersions?imageType=spark&versionState=ACTIVE');
      assert.deepEqual(
        (active.json as unknown as Record<string, unknown>[]).map((v) => v.imageVersion),
        ['1.9'],
      );
    });

    it('demotes the previous ACTIVE version to STABLE when another becomes ACTIVE', async () => {
      const list = (await call('guest', 'GET', '/imageVersions?imageType=spark')).json as unknown as Record<string, unknown>[];
      const v110 = list.find((v) => v.imageVersion === '1.10')!;
      const r = await call('member', 'POST', `/imageVersions/${String(v110.id)}`, { imageType: 'spark', versionState: 'ACTIVE' });
      assert.equal(r.status, 200);
      const after = (await call('guest', 'GET', '/imageVersions?imageType=spark')).json as unknown as Record<string, unknown>[];
      assert.deepEqual(
        after.map((v) => [v.imageVersion, v.versionState]),
        [
          ['1.2', 'NEW'],
          ['1.9', 'STABLE'],
          ['1.10', 'ACTIVE'],
        ],
      );
    });

    it('keeps one ACTIVE version under concurrent activations', async () => {
      await createType('pig');
      for (const v of ['1.0', '1.1', '1.2', '1.3', '1.4', '1.5']) await addVersion('pig', v);
      const list = (await call('guest', 'GET', '/imageVersions?imageType=pig')).json as unknown as Record<string, unknown>[];
      const answers = await Promise.all(
        list.map((v) => call('member', 'POST', `/imageVersions/${String(v.id)}`, { imageType: 'pig', versionState: 'ACTIVE' })),
      );
      for (const a of answers) assert.ok(a.status === 200 || a.status === 409, `status ${a.status}: ${JSON.stringify(a.json)}`);
      const active = (await call('guest', 'GET', '/imageVersions?imageType=pig&versionState=ACTIVE')).json as unknown as unknown[];
      assert.equal(active.length, 1);
    });

    it('validates ramp-up plans with exact messages', async () => {
      let r = await call('member', 'POST', '/imageRampup', {
        planName: 'p',
        imageType: 'spark',
        imageRampups: [
          { imageVersion: '1.10', rampupPercentage: '60', stabilityTag: 'EXPERIMENTAL' },
          { imageVersion: '1.9', rampupPercentage: 30, stabilityTag: 'STABLE' },
        ],
      });
      assert.equal(r.status, 400);
      assert.equal(r.json.error, 'rampup percentages must add up to 100, got 90');
      r = await call('member', 'POST', '/imageRampup', {
        planName: 'p',
        imageType: 'spark',
        imageRampups: [
          { imageVersion: '1.10', rampupPercentage: 100 },
          { imageVersion: '1.9', rampupPercentage: 10, stabilityTag: 'UNSTABLE' },
          { imageVersion: '1.2', rampupPercentage: 101, stabilityTag: 'SHAKY' },
        ],
      });
      assert.equal(
        r.json.error,
        'imageRampups[1]: an UNSTABLE version must be at 0%, got 10%; imageRampups[2].rampupPercentage must be a whole number from 0 to 100, got "101"; imageRampups[2].stabilityTag must be one of EXPERIMENTAL, STABLE, UNSTABLE, got "SHAKY"',
      );
      r = await call('member', 'POST', '/imageRampup', {
        planName: 'p',
        imageType: 'spark',
        imageRampups: [{ imageVersion: '7.7', rampupPercentage: 100 }],
      });
      assert.equal(r.json.error, 'image type spark has no version 7.7');
    });

    it('keeps one active plan per type: a second needs forceActivatePlan, and GUESTs cannot update', async () => {
      const plan = (name: string, pctNew: number) => ({
        planName: name,
        imageType: 'spark',
        activatePlan: true,
        imageRampups: [
          { imageVersion: '1.9', rampupPercentage: 100 - pctNew, stabilityTag: 'STABLE' },
          { imageVersion: '1.10', rampupPercentage: pctNew, stabilityTag: 'EXPERIMENTAL' },
        ],
      });
      assert.equal((await call('member', 'POST', '/imageRampup', plan('first', 30))).status, 201);
      const second = await call('member', 'POST', '/imageRampup', plan('second', 40));
      assert.equal(second.status, 409);
      assert.equal(second.json.error, 'image type spark already has an active ramp-up plan "first"; set forceActivatePlan to replace it');
      assert.equal((await call('member', 'POST', '/imageRampup', { ...plan('third', 50), forceActivatePlan: true })).status, 201);
      const got = await call('guest', 'GET', '/imageRampup?imageType=spark');
      assert.equal(got.json.planName, 'third');
      assert.deepEqual(got.json.imageRampups, [
        { imageVersion: '1.9', rampupPercentage: 50, stabilityTag: 'STABLE' },
        { imageVersion: '1.10', rampupPercentage: 50, stabilityTag: 'EXPERIMENTAL' },
      ]);
      assert.equal((await call('guest', 'POST', '/imageRampup/spark', { imageRampups: [] })).status, 403);
      const upd = await call('member', 'POST', '/imageRampup/spark', {
        imageRampups: [
          { imageVersion: '1.9', rampupPercentage: 20 },
          { imageVersion: '1.10', rampupPercentage: 80 },
        ],
      });
      assert.equal(upd.status, 200);
      assert.deepEqual(
        (upd.json.imageRampups as Record<string, unknown>[]).map((x) => x.rampupPercentage),
        [20, 80],
      );
    });

    it('creates, reads, updates and clears a ramp-down guard, validating it with exact messages', async () => {
      await createType('tez');
      await addVersion('tez', '1.0', 'ACTIVE');
      await addVersion('tez', '1.1');
      const rows = [
        { imageVersion: '1.0', rampupPercentage: 90 },
        { imageVersion: '1.1', rampupPercentage: 10 },
      ];
      let r = await call('member', 'POST', '/imageRampup', {
        planName: 'guarded',
        imageType: 'tez',
        imageRampups: rows,
        rampDownGuard: { minExecutions: 0, maxExcessFailurePercent: 101, windowMinutes: 'soon' },
      });
      assert.equal(r.status, 400);
      assert.equal(
        r.json.error,
        'rampDownGuard.minExecutions must be a whole number from 1 to 1000000, got "0"; rampDownGuard.maxExcessFailurePercent must be a whole number from 0 to 100, got "101"; rampDownGuard.windowMinutes must be a whole number from 1 to 43200, got "soon"',
      );
      r = await call('member', 'POST', '/imageRampup', { planName: 'guarded', imageType: 'tez', imageRampups: rows, rampDownGuard: [] });
      assert.equal(r.json.error, 'rampDownGuard must be an object {minExecutions, maxExcessFailurePercent, windowMinutes} or null');
      r = await call('member', 'POST', '/imageRampup', { planName: 'unguarded', imageType: 'tez', imageRampups: rows });
      assert.equal(r.status, 201);
      assert.equal((await call('guest', 'GET', '/imageRampup?imageType=tez')).json.rampDownGuard, null, 'the guard defaults off');
      const guard = { minExecutions: 20, maxExcessFailurePercent: 10, windowMinutes: 60 };
      r = await call('member', 'POST', '/imageRampup', {
        planName: 'guarded',
        imageType: 'tez',
        imageRampups: rows,
        forceActivatePlan: true,
        rampDownGuard: guard,
      });
      assert.equal(r.status, 201);
      assert.deepEqual((await call('guest', 'GET', '/imageRampup?imageType=tez')).json.rampDownGuard, guard);
      r = await call('member', 'POST', '/imageRampup/tez', { rampDownGuard: { ...guard, minExecutions: 5 } });
      assert.equal(r.status, 200);
      assert.deepEqual(r.json.rampDownGuard, { ...guard, minExecutions: 5 });
      assert.deepEqual(
        (r.json.imageRampups as Record<string, unknown>[]).map((x) => x.rampupPercentage),
        [90, 10],
        'changing only the guard keeps the rows',
      );
      r = await call('member', 'POST', '/imageRampup/tez', { rampDownGuard: null });
      assert.equal(r.json.rampDownGuard, null);
      assert.equal((await call('guest', 'POST', '/imageRampup/tez', { rampDownGuard: guard })).status, 403);
    });

    it('keeps one active plan under concurrent creations', async () => {
      await createType('flink');
      await addVersion('flink', '1.0', 'ACTIVE');
      await addVersion('flink', '2.0');
      const body = (i: number) => ({
        planName: `p${i}`,
        imageType: 'flink',
        imageRampups: [{ imageVersion: '2.0', rampupPercentage: 100 }],
      });
      const answers = await Promise.all([0, 1, 2, 3, 4].map((i) => call('member', 'POST', '/imageRampup', body(i))));
      assert.equal(answers.filter((a) => a.status === 201).length, 1);
      assert.ok(answers.every((a) => a.status === 201 || a.status === 409));
    });

    it('lets type ADMIN owners add owners and refuses MEMBERs', async () => {
      const member = await call('member', 'POST', '/imageTypes/spark/ownerships', { ownerships: [{ owner: 'stranger', role: 'GUEST' }] });
      assert.equal(member.status, 403);
      const owner = await call('owner', 'POST', '/imageTypes/spark/ownerships', { ownerships: [{ owner: 'stranger', role: 'GUEST' }] });
      assert.equal(owner.status, 200);
      assert.equal((await call('stranger', 'GET', '/imageTypes/spark')).status, 200);
    });

    it('writes every change to the audit log with before and after', async () => {
      const r = await call('admin', 'GET', '/imageAudit?entityType=image_rampup&entityId=spark');
      assert.equal(r.status, 200);
      const entries = r.json as unknown as { actor: string; action: string; before?: unknown; after?: unknown }[];
      assert.deepEqual(
        entries.map((e) => [e.actor, e.action]),
        [
          ['member', 'update'],
          ['member', 'create'],
          ['member', 'create'],
        ],
      );
      assert.ok(entries[0]!.before !== undefined && entries[0]!.after !== undefined);
      assert.equal((await call('member', 'GET', '/imageAudit')).status, 403);
    });

    it('shows each type with its active version and plan under /status', async () => {
      const r = await call('guest', 'GET', '/status');
      const spark = (r.json as unknown as Record<string, unknown>[]).find((x) => x.imageType === 'spark')!;
      assert.deepEqual((spark.activeVersion as Record<string, unknown>).imageVersion, '1.10');
      assert.equal((spark.rampupPlan as Record<string, unknown>).planName, 'third');
    });

    it('keeps flows listed in a ramp rule on the ACTIVE version, and checks that listed flows exist', async () => {
      await createType('hbase');
      await addVersion('hbase', '1.0', 'ACTIVE');
      await addVersion('hbase', '2.0');
      const plan = { planName: 'all-in', imageType: 'hbase', imageRampups: [{ imageVersion: '2.0', rampupPercentage: 100 }] };
      assert.equal((await call('member', 'POST', '/imageRampup', plan)).status, 201);
      await postForm(`${t.url}/manager?action=create`, { 'session.id': sessions.admin!, name: 'etl', description: 'etl' });
      const up = await postMultipart(
        `${t.url}/manager`,
        { 'session.id': sessions.admin!, ajax: 'upload', project: 'etl' },
        {
          file: {
            name: 'p.zip',
            type: 'application/zip',
            content: zipOfFiles({ 'p.project': 'azkaban-flow-version: 2.0\n', 'daily.flow': 'nodes:\n  - name: a\n    type: hbase\n' }),
          },
        },
      );
      assert.equal(up.json.error, undefined, up.text);
      const dry = async () =>
        ((await call('admin', 'GET', '/api/v1/version-sets/resolve?project=etl&flow=daily')).json.images as Record<string, unknown>[]).find(
          (i) => i.imageType === 'hbase',
        )!;
      assert.deepEqual([(await dry()).imageVersion, (await dry()).reason], ['2.0', 'ramp-plan']);

      assert.equal(
        (await call('guest', 'POST', '/imageRampRule/createRule', { ruleName: 'r1', imageName: 'hbase', imageVersion: '2.0' })).status,
        403,
      );
      assert.equal(
        (await call('member', 'POST', '/imageRampRule/createRule', { ruleName: 'r1', imageName: 'hbase', imageVersion: '2.0' })).status,
        201,
      );
      const bad = await call('member', 'POST', '/imageRampRule/addFlowsToRule', {
        ruleName: 'r1',
        flowIds: [
          { projectName: 'nope', flowName: 'daily' },
          { projectName: 'etl', flowName: 'weekly' },
        ],
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error, 'flowIds[0]: project "nope" does not exist; flowIds[1]: project etl has no flow "weekly"');
      const ok = await call('member', 'POST', '/imageRampRule/addFlowsToRule', {
        ruleName: 'r1',
        flowIds: [{ projectName: 'etl', flowName: 'daily' }],
      });
      assert.equal(ok.status, 200);
      assert.deepEqual(
        [(await dry()).imageVersion, (await dry()).reason, (await dry()).why],
        ['1.0', 'ramp-rule', 'a ramp rule on version 2.0 keeps this flow on the ACTIVE version'],
      );

      assert.equal((await call('member', 'POST', '/imageRampRule/deleteRule?ruleName=r1')).status, 200);
      assert.equal((await dry()).imageVersion, '2.0');
      const missing = await call('member', 'POST', '/imageRampRule/deleteRule');
      assert.equal(missing.json.error, 'ruleName must not be null or empty');
    });

    it('lets only a global admin create a high-priority rule, which keeps its flows off every ramped version', async () => {
      assert.equal((await call('owner', 'POST', '/imageRampRule/createHPFlowRule', { ruleName: 'vip' })).status, 403);
      assert.equal((await call('admin', 'POST', '/imageRampRule/createHPFlowRule', { ruleName: 'vip' })).status, 201);
      assert.equal(
        (
          await call('admin', 'POST', '/imageRampRule/addFlowsToRule', {
            ruleName: 'vip',
            flowIds: [{ projectName: 'etl', flowName: 'daily' }],
          })
        ).status,
        200,
      );
      const dry = await call('admin', 'GET', '/api/v1/version-sets/resolve?project=etl&flow=daily');
      const hbase = (dry.json.images as Record<string, unknown>[]).find((i) => i.imageType === 'hbase')!;
      assert.deepEqual([hbase.imageVersion, hbase.why], ['1.0', 'a high-priority ramp rule keeps this flow on the ACTIVE version']);
    });

    it('serves the same endpoints under /api/v1 with REST error bodies', async () => {
      const r = await call('stranger', 'GET', '/api/v1/imageVersions?imageType=hive');
      assert.equal(r.status, 403);
      assert.equal(r.json.code, 'FORBIDDEN');
      const anon = await restCall(`${t.url}/imageTypes`, 'GET');
      assert.equal(anon.status, 401);
    });
  });
}
