import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import { FakeClock } from '../../common/clock.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../../common/db/test-database.js';
import { listImageAudit } from '../../image-mgmt/src/audit-store.js';
import { RampDownMonitor, type RampDownEvent } from '../../image-mgmt/src/ramp-down-monitor.js';
import { findActivePlan } from '../../image-mgmt/src/rampup-store.js';
import { canonicalVersionSetJson, versionSetHash } from '../../image-mgmt/src/version-set.js';
import { storeVersionSet } from '../../image-mgmt/src/version-set-store.js';
import { migrateToLatest } from '../../migrations/index.js';

const HOUR = 3_600_000;

for (const dialect of testDialects()) {
  describe(`automatic ramp-down check [${dialect}]`, function () {
    this.timeout(60_000);
    let tdb: TestDatabase;
    let db: Knex;
    const clock = new FakeClock(1_800_000_000_000);
    const events: RampDownEvent[] = [];
    let projectId = 0;
    const monitor = () =>
      new RampDownMonitor({
        db,
        clock,
        intervalMs: 60_000,
        onRampDown: (e) => events.push(e),
        onError: (e) => {
          throw e;
        },
      });

    const who = { created_by: 'admin', created_at: 1, modified_by: 'admin', modified_at: 1 };
    async function addType(name: string): Promise<number> {
      const [id] = await db('image_types').insert({ name, ...who });
      return Number(id);
    }
    async function addVersion(typeId: number, version: string, state: string): Promise<number> {
      const [id] = await db('image_versions').insert({
        type_id: typeId,
        path: `reg/${typeId}`,
        version,
        version_key: version,
        state,
        active_type_id: state === 'ACTIVE' ? typeId : null,
        ...who,
      });
      return Number(id);
    }
    async function addPlan(typeId: number, rows: [number, number][], guard = true): Promise<void> {
      const [planId] = await db('image_rampup_plans').insert({
        type_id: typeId,
        name: `plan-${typeId}`,
        active: true,
        active_type_id: typeId,
        guard_min_executions: guard ? 4 : null,
        guard_max_excess_failure_pct: guard ? 25 : null,
        guard_window_ms: guard ? HOUR : null,
        ...who,
      });
      await db('image_rampups').insert(
        rows.map(([versionId, pct]) => ({
          plan_id: planId,
          version_id: versionId,
          rampup_percentage: pct,
          stability_tag: 'EXPERIMENTAL',
          ...who,
        })),
      );
    }
    /** `n` executions of `status` on a version set of {type: version}, ended `ago` ms before now. */
    async function addExecutions(set: Record<string, string>, status: string, n: number, ago = 60_000): Promise<void> {
      const json = canonicalVersionSetJson(Object.fromEntries(Object.entries(set).map(([t, v]) => [t, { path: `reg/${t}`, version: v }])));
      const setId = await storeVersionSet(db, versionSetHash(json), json, 1);
      const end = clock.now() - ago;
      for (let i = 0; i < n; i++) {
        await db('execution_flows').insert({
          project_id: projectId,
          project_version: 1,
          flow_id: 'f',
          status,
          submit_user: 'admin',
          submit_time: end - 1000,
          start_time: end - 500,
          end_time: end,
          update_time: end,
          options: '{}',
          flow_params: '{}',
          version_set_id: setId,
        });
      }
    }

    before(async () => {
      tdb = await createTestDatabase(dialect, migrateToLatest);
      db = tdb.db;
      const [pid] = await db('projects').insert({ name: 'p', live_name: 'p', ...who });
      projectId = Number(pid);
    });
    after(async () => {
      await tdb?.dispose();
    });

    it('ramps a failing version down to UNSTABLE at 0%, returns its share to ACTIVE, and audits it once', async () => {
      const spark = await addType('spark');
      const v10 = await addVersion(spark, '1.0', 'ACTIVE');
      const v11 = await addVersion(spark, '1.1', 'NEW');
      await addPlan(spark, [
        [v10, 60],
        [v11, 40],
      ]);
      await addExecutions({ spark: '1.0' }, 'SUCCEEDED', 9);
      await addExecutions({ spark: '1.0' }, 'FAILED', 1);
      await addExecutions({ spark: '1.1' }, 'SUCCEEDED', 2);
      await addExecutions({ spark: '1.1' }, 'EXECUTION_STOPPED', 1);
      await addExecutions({ spark: '1.1' }, 'FAILED', 1);
      await addExecutions({ spark: '1.1' }, 'FAILED', 20, 2 * HOUR); // outside the window
      await addExecutions({ spark: '1.1' }, 'KILLED', 5); // a kill is not a failure of the version

      const applied = await monitor().checkOnce();
      assert.deepEqual(
        applied.map((e) => [e.imageType, e.version, e.activeVersion, e.percentage, e.reason]),
        [
          [
            'spark',
            '1.1',
            '1.0',
            40,
            'version 1.1 failed 2 of 4 executions (50%) against 1 of 10 (10%) on ACTIVE version 1.0, more than the 25 points the guard allows',
          ],
        ],
      );
      assert.deepEqual(events, applied);
      const plan = await findActivePlan(db, spark);
      assert.deepEqual(
        plan?.rows.map((r) => [r.version, r.percentage, r.stabilityTag]),
        [
          ['1.0', 100, 'EXPERIMENTAL'],
          ['1.1', 0, 'UNSTABLE'],
        ],
      );
      const audit = await listImageAudit(db, { entityTypes: ['image_rampup'], entityId: 'spark', limit: 10 });
      assert.deepEqual(
        audit.map((a) => [a.actor, a.action]),
        [['caisson:ramp-down', 'auto-ramp-down']],
      );
      assert.deepEqual((await monitor().checkOnce()).length, 0, 'a second check finds nothing left to ramp down');
    });

    it('leaves plans without a guard, and versions within the guard, untouched', async () => {
      const hive = await addType('hive');
      const h1 = await addVersion(hive, '1.0', 'ACTIVE');
      const h2 = await addVersion(hive, '2.0', 'NEW');
      await addPlan(
        hive,
        [
          [h1, 50],
          [h2, 50],
        ],
        false,
      );
      await addExecutions({ hive: '2.0' }, 'FAILED', 10);
      const pig = await addType('pig');
      const p1 = await addVersion(pig, '1.0', 'ACTIVE');
      const p2 = await addVersion(pig, '1.1', 'NEW');
      await addPlan(pig, [
        [p1, 50],
        [p2, 50],
      ]);
      await addExecutions({ pig: '1.0' }, 'FAILED', 2);
      await addExecutions({ pig: '1.0' }, 'SUCCEEDED', 2);
      await addExecutions({ pig: '1.1' }, 'FAILED', 3);
      await addExecutions({ pig: '1.1' }, 'SUCCEEDED', 1); // 75% against 50%: exactly 25 points
      assert.deepEqual(await monitor().checkOnce(), []);
      assert.deepEqual(
        (await findActivePlan(db, hive))?.rows.map((r) => r.percentage),
        [50, 50],
      );
    });
  });
}
