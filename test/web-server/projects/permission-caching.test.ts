import assert from 'node:assert/strict';
import { FakeClock } from '../../../common/clock.js';
import { isCaissonError } from '../../../common/errors.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../../../common/db/test-database.js';
import { migrateToLatest } from '../../../migrations/index.js';
import { AuthService } from '../../../web-server/src/auth/auth-service.js';
import type { Principal } from '../../../web-server/src/auth/principal.js';
import { ProjectService, type ProjectRow } from '../../../web-server/src/projects/project-service.js';
import type { PermissionType } from '../../../web-server/src/projects/permissions.js';
import { zipOfFiles } from '../../support/projects.js';

const LIMITS = { maxArchiveBytes: 10 << 20, maxEntries: 1000, maxExpandedBytes: 64 << 20, maxCompressionRatio: 200 };

for (const dialect of testDialects()) {
  describe(`project permissions and flows read through the caches [${dialect}]`, function () {
    this.timeout(60_000);
    let tdb: TestDatabase;
    let clock: FakeClock;
    let projects: ProjectService;
    /** Another replica: its own service (and caches) on the same database. */
    let replica: ProjectService;
    let project: ProjectRow;
    const admin: Principal = { userId: 1, username: 'root', role: 'ADMIN', groups: [], via: 'session' };
    const alice: Principal = { userId: 2, username: 'alice', role: 'USER', groups: [], via: 'session' };
    const bob: Principal = { userId: 3, username: 'bob', role: 'USER', groups: [], via: 'session' };
    const carol: Principal = { userId: 4, username: 'carol', role: 'USER', groups: ['analysts', 'ops'], via: 'session' };

    const allowed = async (who: Principal, needed: PermissionType, service = projects): Promise<boolean> => {
      try {
        await service.checkPermission(who, project, needed);
        return true;
      } catch (e) {
        if (isCaissonError(e) && e.code === 'FORBIDDEN') return false;
        throw e;
      }
    };

    before(async () => {
      tdb = await createTestDatabase(dialect, migrateToLatest);
      clock = new FakeClock();
      const auth = new AuthService({
        db: tdb.db,
        clock,
        sessionTtlMs: 3_600_000,
        passwordHashCost: 4,
        loginMaxFailures: 100,
        loginFailureWindowMs: 60_000,
      });
      for (const name of ['root', 'alice', 'bob', 'carol']) {
        await auth.createUser({ username: name, password: `${name}-password`, role: name === 'root' ? 'ADMIN' : 'USER' });
      }
      await auth.addUserToGroup('carol', 'analysts');
      projects = new ProjectService({ db: tdb.db, clock, archiveLimits: LIMITS });
      replica = new ProjectService({ db: tdb.db, clock, archiveLimits: LIMITS });
      project = await projects.createProject(admin, 'cached', 'permission caching');
      await projects.uploadArchive(
        admin,
        'cached',
        'cached.zip',
        zipOfFiles({ 'p.project': 'azkaban-flow-version: 2.0\n', 'f.flow': 'nodes:\n  - name: a\n    type: noop\n' }),
      );
      await projects.addPermission(admin, 'cached', { principalType: 'user', principal: 'alice', permissions: ['READ'] });
      await projects.addPermission(admin, 'cached', { principalType: 'group', principal: 'analysts', permissions: ['EXECUTE'] });
    });
    after(async () => {
      await tdb?.dispose();
    });

    it('never answers one caller with the grants of another', async () => {
      assert.equal(await allowed(alice, 'READ'), true);
      assert.equal(await allowed(bob, 'READ'), false);
      assert.equal(await allowed(alice, 'READ'), true);
      assert.equal(await allowed({ ...bob, groups: ['analysts'] }, 'EXECUTE'), true);
      assert.equal(await allowed(bob, 'EXECUTE'), false);
      assert.equal(await allowed(carol, 'EXECUTE'), true);
      assert.equal(await allowed({ ...carol, groups: [] }, 'EXECUTE'), false);
      assert.deepEqual(await projects.permissionsOf(alice, project), ['READ']);
      assert.deepEqual(await projects.permissionsOf(bob, project), []);
    });

    it('sees a change made through this process at once', async () => {
      assert.equal(await allowed(bob, 'READ'), false);
      await projects.addPermission(admin, 'cached', { principalType: 'user', principal: 'bob', permissions: ['READ'] });
      assert.equal(await allowed(bob, 'READ'), true);
      await projects.changePermission(admin, 'cached', { principalType: 'user', principal: 'bob', permissions: ['WRITE'] });
      assert.equal(await allowed(bob, 'READ'), false);
      assert.equal(await allowed(bob, 'WRITE'), true);
      await projects.changePermission(admin, 'cached', { principalType: 'user', principal: 'bob', permissions: [] });
      assert.equal(await allowed(bob, 'WRITE'), false);
    });

    it('sees a change made by another replica within the time to live (1 s by its clock)', async () => {
      assert.equal(await allowed(alice, 'READ'), true);
      await replica.changePermission(admin, 'cached', { principalType: 'user', principal: 'alice', permissions: [] });
      assert.equal(await allowed(alice, 'READ', replica), false);
      clock.advance(999);
      assert.equal(await allowed(alice, 'READ'), true, 'the entry read before the change is still fresh');
      clock.advance(1);
      assert.equal(await allowed(alice, 'READ'), false);
      await replica.addPermission(admin, 'cached', { principalType: 'user', principal: 'alice', permissions: ['READ'] });
      clock.advance(1000);
      assert.equal(await allowed(alice, 'READ'), true);
    });

    it('answers a flow of an uploaded version, the same frozen object every time', async () => {
      const first = await projects.flowOf(project.id, 1, 'f');
      assert.equal(first?.name, 'f');
      assert.deepEqual(
        first?.nodes.map((n) => n.name),
        ['a'],
      );
      assert.equal(await projects.flowOf(project.id, 1, 'f'), first);
      assert.ok(Object.isFrozen(first));
      assert.equal(await projects.flowOf(project.id, 1, 'missing'), undefined);
      assert.equal(await projects.flowOf(project.id, 2, 'f'), undefined);
    });
  });
}
